"""AI providers (administrators only): where the model runs, with which key and settings.

The API key is write-only for everyone and stored encrypted with the same key and code
as mailbox passwords (``maildesk_mail_client/engine/secrets.py``); only the AI service
decrypts it, to hand it to the engine, and it never appears in an error or a log.
One provider per company is active: the one every AI feature of that company uses.
"""
from odoo import _, api, fields, models
from odoo.addons.maildesk_mail_client.engine import secrets
from odoo.exceptions import UserError

from ..engine import llm

KINDS = [("openai", "OpenAI-compatible (OpenAI, Azure, Mistral, DeepSeek, Grok, Gemini, Ollama, LM Studio, vLLM)"),
         ("anthropic", "Anthropic (Claude)")]
DEFAULT_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class MaildeskAiProvider(models.Model):
    _name = "maildesk.ai.provider"
    _description = "AI Provider"
    _order = "is_active desc, name, id"

    name = fields.Char(required=True)
    kind = fields.Selection(KINDS, required=True, default="openai")
    base_url = fields.Char("Base URL", required=True, default=DEFAULT_URLS["openai"],
                           help="OpenAI: https://api.openai.com/v1 · Ollama: http://localhost:11434/v1 · "
                                "vLLM: http://host:8000/v1 · Azure: https://RESOURCE.openai.azure.com/openai/v1 · "
                                "Anthropic: https://api.anthropic.com")
    model = fields.Char(required=True, help="Model name (Azure: the deployment name).")
    api_key = fields.Char("API Key", compute="_compute_api_key", inverse="_inverse_api_key",
                          help="Write-only: the stored key is encrypted and never shown again.")
    api_key_encrypted = fields.Char(groups="base.group_system", copy=False)
    has_key = fields.Boolean(compute="_compute_api_key")
    api_version = fields.Char("API Version", help="Azure OpenAI legacy deployment URLs only (e.g. 2024-06-01).")
    timeout = fields.Integer("Timeout (s)", default=60, required=True,
                             help="Longest a request may take, retries included.")
    max_tokens = fields.Integer("Max Output Tokens", default=1024, required=True)
    context_tokens = fields.Integer("Context Window (tokens)", default=16000, required=True,
                                    help="Input budget: longer conversations keep their newest messages.")
    temperature = fields.Float(default=0.2, digits=(3, 2))
    json_mode = fields.Boolean("JSON Mode", help="Ask for response_format json_object (servers that accept it).")
    verify_tls = fields.Boolean("Verify TLS Certificate", default=True)
    is_active = fields.Boolean("Active Provider", readonly=True, copy=False)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    last_test = fields.Text("Last Test Result", readonly=True, copy=False)

    _sql_constraints = [
        ("timeout_positive", "CHECK(timeout > 0 AND timeout <= 600)", "The timeout must be between 1 and 600 s."),
        ("max_tokens_positive", "CHECK(max_tokens > 0)", "Max output tokens must be positive."),
        ("context_positive", "CHECK(context_tokens >= 1000)", "The context window must be at least 1,000 tokens."),
    ]

    def init(self):
        # One active provider per company, even under concurrent "Set as Active" clicks.
        self.env.cr.execute("""CREATE UNIQUE INDEX IF NOT EXISTS maildesk_ai_provider_one_active
                                   ON maildesk_ai_provider (company_id) WHERE is_active""")

    def _compute_api_key(self):
        # sudo: the encrypted column is admin-only; we expose whether a key is set, never the key.
        for provider, sudo_provider in zip(self, self.sudo()):
            provider.api_key = False
            provider.has_key = bool(sudo_provider.api_key_encrypted)

    def _inverse_api_key(self):
        key = self.env["maildesk.account"]._get_encryption_key()
        for provider in self:
            if provider.api_key:
                # sudo: the encrypted column is written here only, from the write-only field.
                provider.sudo().api_key_encrypted = secrets.encrypt(key, provider.api_key)
        # Drop the plain value from the cache so the same request never echoes it back.
        self.invalidate_recordset(["api_key"])

    @api.onchange("kind")
    def _onchange_kind(self):
        if self.base_url in DEFAULT_URLS.values() or not self.base_url:
            self.base_url = DEFAULT_URLS[self.kind]

    def _get_api_key(self):
        """The decrypted key, for the engine only (never returned to a client)."""
        self.ensure_one()
        value = self.sudo().api_key_encrypted  # sudo: admin-only column, read only to call the provider
        if not value:
            return ""
        try:
            return secrets.decrypt(self.env["maildesk.account"]._get_encryption_key(), value)
        except secrets.SecretError as exc:
            raise UserError(str(exc)) from None

    def _get_config(self):
        """Plain engine settings; override to add TLS bundles or headers."""
        self.ensure_one()
        return llm.ProviderConfig(kind=self.kind, base_url=(self.base_url or "").strip(), model=self.model.strip(),
                                  api_key=self._get_api_key(), timeout=self.timeout, max_tokens=self.max_tokens,
                                  temperature=self.temperature, verify=self.verify_tls,
                                  api_version=(self.api_version or "").strip(), json_mode=self.json_mode)

    def action_set_active(self):
        self.ensure_one()
        self.search([("company_id", "=", self.company_id.id), ("is_active", "=", True),
                     ("id", "!=", self.id)]).write({"is_active": False})
        self.flush_model(["is_active"])
        self.is_active = True
        return True

    def action_test_connection(self):
        """A one-token call; the readable result is shown and kept in Last Test Result."""
        self.ensure_one()
        try:
            result = llm.make_adapter(self._get_config()).test_connection()
        except llm.AiError as exc:
            self.last_test = _("Failed: %s", exc)
            kind, message = "danger", str(exc)
        else:
            self.last_test = _("OK: %(model)s answered (%(tokens)s tokens).", model=result.model or self.model,
                               tokens=result.tokens_in + result.tokens_out)
            kind, message = "success", self.last_test
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": _("Test Connection"), "message": message, "type": kind, "sticky": kind != "success",
                           "next": {"type": "ir.actions.client", "tag": "soft_reload"}}}
