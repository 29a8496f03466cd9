"""Settings, read once from the environment into one immutable object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The light apps the portal loads, by module name (each defines `APP = LightApp(...)`): the host never
# imports lightapps/ itself. LIGHT_APPS in the environment (comma separated) replaces the list.
DEFAULT_LIGHT_APPS = tuple(f"lightapps.{name}" for name in (
    "activities", "cinema", "coupons", "directory", "membership", "navigation", "parking", "queue"))


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a number, got {raw!r}") from exc


def _env_flag(env: dict[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
        raise ValueError(f"environment variable {name} must be 1 or 0, got {raw!r}")
    return raw in ("1", "true", "yes", "on")
def _env_list(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _persistent_secret(data_dir: Path, name: str) -> str:
    """A development secret generated once and kept under ./var, so sessions and MAC hashes
    stay valid across restarts without anyone having to set them."""
    path = data_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    secret_key: str = field(default="", repr=False)
    mac_hash_key: str = field(default="", repr=False)
    port: int = 8000
    default_venue: str = "demo"
    data_dir: Path = PROJECT_ROOT / "var"
    rssi_window_s: float = 60.0
    position_cache_s: float = 30.0  # a computed position is reused this long while no new reading arrives
    max_report_bytes: int = 1_048_576
    max_observations: int = 20_000
    max_clock_skew_s: float = 300.0
    # Meraki v3 sends one POST per network per minute with every client in it: larger limits.
    max_meraki_bytes: int = 32 * 1_048_576
    max_meraki_observations: int = 500_000
    ap_silent_after_s: float = 300.0  # the health view lists APs not heard from for longer
    load_demo: bool = True
    # DEMO=1 (`make run`): /demo and the radio simulator, on venues marked as demo venues only.
    demo: bool = False
    shopper_token_ttl_s: int = 30 * 86400  # a shopper token lives this long after its last use
    # Cookies only over HTTPS (Secure): on by default when PREFERRED_URL_SCHEME=https.
    secure_cookies: bool = False
    preferred_url_scheme: str = "http"
    testing: bool = False
    light_apps: tuple[str, ...] = DEFAULT_LIGHT_APPS
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("DATA_DIR") or PROJECT_ROOT / "var")
        scheme = (env.get("PREFERRED_URL_SCHEME") or "http").lower()
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or _persistent_secret(data_dir, "secret_key"),
            mac_hash_key=env.get("MAC_HASH_KEY") or _persistent_secret(data_dir, "mac_hash_key"),
            port=_env_int(env, "PORT", 8000),
            default_venue=env.get("VENUE") or "demo",
            data_dir=data_dir,
            rssi_window_s=_env_float(env, "RSSI_WINDOW_S", 60.0),
            position_cache_s=_env_float(env, "POSITION_CACHE_S", 30.0),
            max_report_bytes=_env_int(env, "MAX_REPORT_BYTES", 1_048_576),
            max_observations=_env_int(env, "MAX_OBSERVATIONS", 20_000),
            max_clock_skew_s=_env_float(env, "MAX_CLOCK_SKEW_S", 300.0),
            max_meraki_bytes=_env_int(env, "MAX_MERAKI_BYTES", 32 * 1_048_576),
            max_meraki_observations=_env_int(env, "MAX_MERAKI_OBSERVATIONS", 500_000),
            ap_silent_after_s=_env_float(env, "AP_SILENT_AFTER_S", 300.0),
            load_demo=env.get("LOAD_DEMO", "1") not in ("0", "false", "no"),
            demo=_env_flag(env, "DEMO", False),
            shopper_token_ttl_s=_env_int(env, "SHOPPER_TOKEN_TTL_S", 30 * 86400),
            secure_cookies=_env_flag(env, "SECURE_COOKIES", scheme == "https"),
            preferred_url_scheme=scheme,
            light_apps=_env_list(env, "LIGHT_APPS", DEFAULT_LIGHT_APPS),
        )

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)
