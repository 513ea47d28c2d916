"""Tokens, roles, scopes and the audit log (``twinforge serve --auth``)."""

from twinforge.auth.audit import AuditRetention, read_audit, record_audit
from twinforge.auth.middleware import AuthMiddleware, sensitive_models, set_sensitive_models
from twinforge.auth.tokens import ROLES, Token, Tokens

__all__ = ["ROLES", "AuditRetention", "AuthMiddleware", "Token", "Tokens", "read_audit", "record_audit",
           "sensitive_models", "set_sensitive_models"]
