"""Settings: the Atlas server's variables, plus atlas's own `ATLAS_` ones (DESIGN section 2).

Precedence: command-line flag > environment > `.env` in the working directory > default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_cli.errors import BadInput

DATABASE_FILE = "atlas.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: SecretStr | None = None
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_team_price_id: str | None = None
    stripe_team_annual_price_id: str | None = None
    stripe_enterprise_price_id: str | None = None
    atlas_workspace: str | None = None
    atlas_actor: str | None = None
    atlas_format: Literal["table", "json", "csv"] | None = None
    atlas_stripe_api_base: str | None = None
    atlas_data_dir: Path | None = None


def load_settings() -> Settings:
    """The settings, or BadInput naming each bad field (never echoing its value)."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise BadInput(f"invalid configuration: {problems}") from None


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
