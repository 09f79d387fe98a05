"""Settings: the Atlas server's variables, plus atlas's own `ATLAS_` ones (DESIGN section 2).

Precedence: command-line flag > environment > the context (atlas_cli.contexts) > `.env` in the
working directory > default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from atlas_cli.errors import BadInput

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from atlas_cli.contexts import Applied

DATABASE_FILE = "atlas.db"
DOTENV = Path(".env")
# A `.env` may not redirect a secret (DESIGN section 2): a cloned repository's `.env` could send
# the Stripe key anywhere. These are read from the environment (or a flag) only.
NOT_FROM_DOTENV = frozenset({"atlas_stripe_api_base"})


class _DotEnvWithoutRedirects(DotEnvSettingsSource):
    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in super().__call__().items() if k.lower() not in NOT_FROM_DOTENV}


class Settings(BaseSettings):
    # defer_build: the validator is built only when the full reader runs (`load_settings`)
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", defer_build=True)

    database_url: SecretStr | None = None
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_team_price_id: str | None = None
    stripe_team_annual_price_id: str | None = None
    stripe_enterprise_price_id: str | None = None
    # per-seat servers (DESIGN 4b); they may also keep these as platform rows of `settings`
    stripe_starter_price_id: str | None = None
    stripe_starter_annual_price_id: str | None = None
    stripe_pro_price_id: str | None = None
    stripe_pro_annual_price_id: str | None = None
    stripe_business_price_id: str | None = None
    stripe_business_annual_price_id: str | None = None
    atlas_workspace: str | None = None
    atlas_actor: str | None = None
    atlas_format: Literal["table", "json", "csv"] | None = None
    atlas_stripe_api_base: str | None = None
    atlas_billing_model: str | None = None
    atlas_data_dir: Path | None = None
    atlas_tz: str | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _DotEnvWithoutRedirects(settings_cls), file_secret_settings


class _ContextSource(PydanticBaseSettingsSource):
    """The values of the context that applies: below the environment, above `.env`."""

    def __init__(self, settings_cls: type[BaseSettings], values: dict[str, str]) -> None:
        super().__init__(settings_cls)
        self._values = values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


def _settings_class(context: Applied | None) -> type[Settings]:
    if context is None:
        return Settings
    values = dict(context.values)

    class InContext(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            context_settings = _ContextSource(settings_cls, values)
            dotenv = _DotEnvWithoutRedirects(settings_cls)
            return init_settings, env_settings, context_settings, dotenv, file_secret_settings

    return InContext


def load_settings(context: str | None = None) -> Settings:
    """The settings, with the context that applies (`context`, else ATLAS_CONTEXT, else the
    current one), or BadInput naming each bad field (never echoing its value).

    Raises:
        BadInput: a bad setting or context name, or an unreadable contexts file.
        NotFound: the chosen context does not exist.
    """
    from atlas_cli.contexts import applied

    found = applied(context)
    plain = _plain_settings(found)
    if plain is not None:
        return plain
    settings_class = _settings_class(found)
    try:
        return settings_class()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise BadInput(f"invalid configuration: {problems}") from None


def _plain_settings(context: Applied | None, dotenv: Path = DOTENV) -> Settings | None:
    """The settings as the full reader makes them, read without building its validator, in the
    common case: no `.env` file, and every value of the environment and the context valid. None
    otherwise: the full reader then reads `.env` and words any error.

    The same precedence (environment over the context), the same case-insensitive names, the same
    values: text as given (empty included), a secret as SecretStr, a path as Path, a choice only
    when it is one of the choices."""
    if dotenv.is_file():
        return None
    environment = {name.lower(): value for name, value in os.environ.items()}
    context_values = context.values if context is not None else {}
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        value = environment.get(name, context_values.get(name))
        if value is None:
            continue
        kinds = [kind for kind in get_args(field.annotation) if kind is not type(None)]
        if kinds == [str]:
            values[name] = value
        elif kinds in ([SecretStr], [Path]):
            values[name] = kinds[0](value)
        elif len(kinds) == 1 and get_origin(kinds[0]) is Literal and value in get_args(kinds[0]):
            values[name] = value
        else:
            return None  # not a valid choice, or a kind of field this reader does not know
    return Settings.model_construct(**values)


def named_value(settings: Settings, name: str) -> str | None:
    """The value of the variable `name` (a catalog names its price variables): a Settings field
    (flag > environment > `.env`), else the environment; empty counts as unset."""
    field = name.lower()
    value = getattr(settings, field, None) if field in Settings.model_fields else os.environ.get(name)
    if value is None or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def ignored_in_dotenv(dotenv: Path = DOTENV) -> list[str]:
    """The variables `dotenv` sets that only the environment may set, and the environment does not
    (upper case, in order): the `.env` value was ignored."""
    if not dotenv.is_file():
        return []
    from dotenv import dotenv_values

    in_environment = {k.upper() for k in os.environ}
    names = dict.fromkeys(k.upper() for k in dotenv_values(dotenv))
    return [n for n in names if n.lower() in NOT_FROM_DOTENV and n not in in_environment]


def data_dir(settings: Settings) -> Path:
    """Where the embedded database lives: ATLAS_DATA_DIR, else the user data directory."""
    if settings.atlas_data_dir is not None:
        return settings.atlas_data_dir
    from platformdirs import user_data_path

    return user_data_path("atlas", appauthor=False)


def embedded_database_url(settings: Settings) -> str:
    return f"sqlite:///{data_dir(settings) / DATABASE_FILE}"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
