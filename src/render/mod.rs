//! Renderers: each turns the engine's channel-neutral [`View`](crate::engine::View) into what
//! one channel delivers. [`ussd`] makes numbered screens within a GSM-7/UCS-2 budget, paged;
//! [`plain`] makes plain text (the seam's second side, and `simulate --plain`).

pub mod page;
pub mod plain;
pub mod sms;
pub mod ussd;
pub mod voice;

pub use crate::gsm7::{self, Budget, Measure, Text};
pub use page::{Footer, Page, Unfit, paginate, render_page, truncate};
pub use ussd::Screen;
