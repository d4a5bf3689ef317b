"""API tokens: which account a token belongs to, for the REST API and the status stream alike.

Every request and every subscriber looks its token up, so the look-up is one prepared statement
(orders/prepared.py) written once: compiling DRF's `select_related` query cost the ORM three times
what running it costs.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from orders.prepared import columns, instance, prepared_cursor


@cache
def _statement() -> str:
    quote, user = connection.ops.quote_name, get_user_model()
    owner = quote(Token._meta.get_field("user").column)
    return (
        f"SELECT {columns(Token, of='t')}, {columns(user, of='u')} "
        f"FROM {quote(Token._meta.db_table)} t JOIN {quote(user._meta.db_table)} u "
        f"ON u.{quote(user._meta.pk.column)} = t.{owner} WHERE t.{quote(Token._meta.pk.column)} = %s"
    )


def plausible_key(key: str | None) -> bool:
    """Whether `key` could be a token's: one too long could not, and PostgreSQL refuses a NUL in any
    text, with an error."""
    return bool(key) and len(key) <= Token._meta.pk.max_length and "\x00" not in key


def token_owner(key: str) -> tuple[Token, AbstractBaseUser] | None:
    """The token with this key and its account, whether active or not; None for an unknown key."""
    if not plausible_key(key):
        return None
    with prepared_cursor() as cursor:
        cursor.execute(_statement(), (key,))
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(Token._meta.concrete_fields)
    token, user = instance(Token, row[:split]), instance(get_user_model(), row[split:])
    token.user = user
    return token, user


def active_account(key: str | None) -> AbstractBaseUser | None:
    """The active account this key is the token of; None for no key, an unknown one or an inactive account."""
    found = token_owner(key) if key else None
    return found[1] if found and found[1].is_active else None


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with the same answers, looked up by the one statement above."""

    def authenticate_credentials(self, key: str) -> tuple[AbstractBaseUser, Token]:
        found = token_owner(key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, token
