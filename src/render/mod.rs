//! Turning screens into text for a channel: GSM 03.38 accounting and the USSD paginator.
//! (Voice rendering will live beside it.)

pub mod gsm7;
pub mod page;

pub use gsm7::{Budget, Measure};
pub use page::{Footer, Page, Text, Unfit, paginate, render_page, truncate};
