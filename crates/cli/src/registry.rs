//! Every adapter this binary knows, registered by its `type` name, and the
//! roster loader. The only place that names concrete adapters.

use std::path::Path;

use hedui_adapter::Registry;
use hedui_core::model::Roster;

pub fn all() -> Registry {
    let mut r = Registry::new();
    r.register(hedui_public_security::TYPE_NAME, hedui_public_security::factory)
        .register(hedui_hr_social_security::TYPE_NAME, hedui_hr_social_security::factory)
        .register(hedui_health::TYPE_NAME, hedui_health::factory)
        .register(hedui_market_regulation::TYPE_NAME, hedui_market_regulation::factory)
        .register(hedui_banking::TYPE_NAME, hedui_banking::factory)
        .register(hedui_education::TYPE_NAME, hedui_education::factory)
        .register(hedui_housing::TYPE_NAME, hedui_housing::factory)
        .register(hedui_disability::TYPE_NAME, hedui_disability::factory)
        .register(hedui_adapter::mapped::TYPE_NAME, hedui_adapter::mapped::factory);
    r
}

pub fn load_roster(dir: &Path) -> Result<Roster, Box<dyn std::error::Error + Send + Sync>> {
    hedui_civil_affairs::load_roster(dir).map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
}
