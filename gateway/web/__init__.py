"""The server-rendered web pages of the gateway: the member portal, the cashier's till, the
marketer console (with the administrator's webhook pages), the staff entrance, the support
desk, the admin console and the API reference."""

# Blueprints of HTML pages: not part of the JSON API, so not in /openapi.json.
PAGE_BLUEPRINTS = frozenset(
    {
        "web",
        "till",
        "docs",
        "portal",
        "portal_rewards",
        "portal_draws",
        "portal_messages",
        "console",
        "console_rewards",
        "console_draws",
        "console_webhooks",
        "welcome",
        "staff_pages",
        "desk",
        "admin_console",
    }
)
