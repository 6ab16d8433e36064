//! Add-ons: the backing services paas runs for apps (Postgres, Redis), attached to apps
//! by a URL in their config (twelve-factor IV).
//!
//! Everything here is a rule over plain data: which services and plans exist (and the
//! Heroku names the heroku CLI sends for them), how add-ons and attachments are named,
//! the URL an attachment sets, the descriptions of the releases attaching makes, and
//! [`plan`], every decision the add-on supervisor acts on.
//!
//! `service` holds the services, their plans, credentials and URLs; `names` the add-on
//! and attachment names and the release descriptions attaching makes; `plan` the add-on
//! supervisor's decisions.

mod names;
mod plan;
mod service;

pub use names::{AddonName, AttachmentName, attach_description, detach_description};
pub use plan::{AddonAction, SeenAddon, WantedAddon, plan};
pub use service::{Credentials, Plan, Service, parse_service_plan};
