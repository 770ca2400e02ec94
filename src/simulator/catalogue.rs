//! What the simulator page can pick: the flows served now with their languages, and the
//! screen budgets (the standard one and each USSD gateway's), by the ids the page sends back.

use serde::Serialize;

use crate::flow::FlowSet;
use crate::gateway::ConfiguredGateway;
use crate::gsm7::Budget;

/// The budget every phone gets unless a gateway configures another: 182 GSM-7 septets, 80
/// UCS-2 characters.
pub const STANDARD: &str = "standard";

/// A budget the page offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetChoice {
    pub id: String,
    pub label: String,
    pub gsm7_septets: u32,
    pub ucs2_chars: u32,
}

impl BudgetChoice {
    fn new(id: String, what: &str, budget: Budget) -> BudgetChoice {
        BudgetChoice {
            label: format!(
                "{what}: GSM-7 {}, UCS-2 {}",
                budget.gsm7_septets, budget.ucs2_chars
            ),
            id,
            gsm7_septets: budget.gsm7_septets,
            ucs2_chars: budget.ucs2_chars,
        }
    }

    pub fn budget(&self) -> Budget {
        Budget {
            gsm7_septets: self.gsm7_septets,
            ucs2_chars: self.ucs2_chars,
        }
    }
}

/// The standard budget, then each USSD gateway's (`gateway:<name>`), by name.
pub fn budgets<'g>(gateways: impl Iterator<Item = &'g ConfiguredGateway>) -> Vec<BudgetChoice> {
    let mut ussd: Vec<&ConfiguredGateway> = gateways
        .filter(|g| g.channel() == crate::channel::Channel::Ussd)
        .collect();
    ussd.sort_by(|a, b| a.name.cmp(&b.name));
    std::iter::once(BudgetChoice::new(
        STANDARD.into(),
        "Standard",
        Budget::default(),
    ))
    .chain(ussd.into_iter().map(|g| {
        BudgetChoice::new(
            format!("gateway:{}", g.name),
            &format!("Gateway {}", g.name),
            g.render.budget,
        )
    }))
    .collect()
}

#[derive(Debug, Serialize)]
struct FlowChoice<'f> {
    id: &'f str,
    version: u32,
    codes: &'f [String],
    languages: &'f [String],
}

#[derive(Debug, Serialize)]
struct Catalogue<'f> {
    flows: Vec<FlowChoice<'f>>,
    budgets: &'f [BudgetChoice],
}

/// `GET /simulator/flows`: the flows (newest versions) and budgets, as JSON.
pub fn json(flows: &FlowSet, budgets: &[BudgetChoice]) -> String {
    let catalogue = Catalogue {
        flows: flows
            .current()
            .map(|f| FlowChoice {
                id: &f.id,
                version: f.version,
                codes: &f.ussd,
                languages: &f.languages,
            })
            .collect(),
        budgets,
    };
    serde_json::to_string(&catalogue).unwrap_or_else(|_| "{}".into())
}
