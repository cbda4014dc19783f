"""`ivr serve`'s settings: one typed model, read from flags, then IVR_* variables, then a YAML file.

Every key has an environment variable (``IVR_`` and the key in capitals, e.g. ``IVR_SIP``; lists as JSON, e.g.
``IVR_AGENTS='["alice=sip:alice@pbx"]'``), two keep the names they always had (``IVR_DB_URL``, ``IVR_CACHE_DIR``),
and the same key may be set in the ``--config`` file. A flag wins over the environment, which wins over the file,
which wins over the defaults. Values are checked once, here, before anything starts: a bad one is refused with its key.
Secrets are ``SecretStr``: they print as ``**********`` in a repr, a dump or a log line.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from routing.callbacks import CallbackConfig
from routing.pbx_handoff import PbxHandoffConfig

__all__ = ["Settings", "load_settings", "parse_hostport", "turn_config"]


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """'127.0.0.1:5070', '[::1]:5070', 'host' → (host, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            host, port = value, ""
    if not host:
        raise ValueError(f"no host in {value!r}")
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise ValueError(f"bad port in {value!r}") from None
    if not 0 <= p <= 65535:
        raise ValueError(f"port out of range in {value!r}")
    return host, p


def _opt(description: str, default: Any = None, **kw) -> Any:
    if "default_factory" in kw:
        return Field(description=description, **kw)
    return Field(default, description=description, **kw)


class Settings(BaseSettings):
    """Everything `ivr serve` can be told; see the module docstring for where each value comes from."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="forbid", frozen=True, case_sensitive=False)

    config: str | None = _opt("YAML file with any of the keys below (the `--config` flag)")
    sip: str = _opt("SIP listen address HOST:PORT", "127.0.0.1:5070")
    http: str = _opt("HTTP listen address HOST:PORT (panel, API, agent desktop, /healthz, /metrics)",
                     "127.0.0.1:8080")
    db: str = _opt("store URL: sqlite:///FILE or postgresql://... (from IVR_DB_URL it stays out of `ps`)",
                   "sqlite:///var/ivr.db", validation_alias=AliasChoices("db", "ivr_db_url"), repr=False)
    company_db: str = _opt("SQLite file with the company's data (demo data is seeded)", "var/company.db")
    policy: str | None = _opt("escalation policy YAML to seed the store with (None: routing/data/policy.yaml)")
    bot: Literal["triage", "echo"] = _opt("triage: the NLU dialog and policy; echo: reads back what it heard",
                                          "triage")
    agents: list[str | dict[str, Any]] = _opt("agents: SIP_URI or ID=SIP_URI;skills=a,b;password=..., or (in the "
                                              "file) mappings of id, name, sip_uri, skills, password",
                                              default_factory=list, repr=False)  # passwords
    allow: list[str] | None = _opt("only these source addresses/networks may call (None: anyone)")
    ring_timeout: float = _opt("seconds an agent's phone rings", 20.0)
    survey: bool = _opt("after the agent hangs up, ask the caller to rate the call 1-5 by DTMF", False)
    refer: bool = _opt("after the whisper, transfer by REFER with Replaces when the caller's side supports it", False)
    pbx: PbxHandoffConfig | None = _opt("hand calls to the company PBX's queue (routing.pbx_handoff; IVR_PBX as JSON)")
    callback: CallbackConfig = _opt("placing promised callbacks (routing.callbacks.CallbackConfig: trunk_uri, "
                                    "max_attempts, backoff_s, ...; IVR_CALLBACK as JSON)", default_factory=CallbackConfig)
    # Scale-out and reliability (see README "Production layout").
    worker_id: str | None = _opt("this worker's name in a cluster sharing one database (None: HOSTNAME-SIPPORT, "
                                 "stable across restarts, unique per machine and port)")
    heartbeat_s: float = _opt("seconds between this worker's heartbeats in the store", 2.0, gt=0)
    worker_stale_s: float = _opt("a worker silent this long is dead: its open calls are closed as interrupted",
                                 10.0, gt=0)
    invite_rate: float = _opt("new INVITEs per second per source address (token bucket)", 5.0, gt=0)
    invite_burst: int = _opt("INVITE burst per source; excess gets 503, a sustained flood is dropped", 20, ge=1)
    rate_exempt: list[str] = _opt("sources not rate-limited here (the Kamailio in front limits per source itself)",
                                  default_factory=list)
    sip_block_s: float = _opt("seconds a source guessing SIP passwords is first refused; later blocks double", 60.0, gt=0)
    # End of turn (voice.turns.TurnConfig) and Whisper's encoder window (voice.models.ModelConfig):
    # None keeps the fast defaults; `ivr bench latency --compare-legacy` serves the old ones.
    silence_ms: int | None = _opt("silence that ends a caller turn whatever was said")
    pause_ms: int | None = _opt("pause at which the turn is transcribed and ended if it reads as finished; 0: off")
    number_wait_ms: int | None = _opt("silence allowed inside a number the bot asked for (EndOfTurnRule.pending_ms)")
    hesitation_ms: int | None = _opt("silence allowed after words that trail off (EndOfTurnRule.unfinished_ms)")
    smart_turn_ms: int | None = _opt("ask Smart Turn v3.2 at this silence (None/0: off; voice.smart_turn)")
    asr_fit: bool = _opt("Whisper's encoder fitted to the utterance (False: its standard 30 s window)", True)
    asr_second: str | None = _opt("Whisper base folder (`make models`: var/models/whisper-base) that reads again "
                                  "the turns tiny.en is unsure of (voice.second_reading); None: off")
    max_calls: int = _opt("calls at once on this worker; more get 503 (Kamailio fails over)", 200, ge=1)
    max_draining: int = _opt("hung-up calls still finishing: more means overloaded, new calls get 503", 4, ge=1)
    advertise: str | None = _opt("address put in Via/Contact/SDP when --sip binds 0.0.0.0 or a NATed address")
    sip_tls: str | None = _opt("HOST:PORT for SIP over TLS (optional), with tls_cert and tls_key")
    tls_cert: str | None = _opt("PEM certificate (chain) for sip_tls")
    tls_key: str | None = _opt("PEM private key for sip_tls")
    srtp: Literal["off", "offer", "require"] = _opt("SRTP (SDES keys, over SIP/TLS only): off, offer (when the peer "
                                                    "has it) or require (else 488)", "offer")
    srtp_insecure_signalling: bool = _opt("allow SDES keys over plain UDP/TCP SIP (TLS ended at a proxy in front)", False)
    cache_dir: str | None = _opt("start-up cache folder (fitted classifiers, prompts' audio; `ivr warm` fills it): "
                                 "None: var/cache; 'off' rebuilds everything on every start")
    log_format: Literal["text", "json"] = _opt("text: one readable line per record; json: JSON lines (ts, level, "
                                               "logger, message, call_id)", "text")
    secret: SecretStr | None = _opt("signs the agents' desktop tokens (None: kept in secret_file, created once)")
    secret_file: str = _opt("where the generated secret is kept, readable by this user only", "var/ivr-secret")
    admin_token: SecretStr | None = _opt("bearer token that acts as an admin on the API (for scripts)")
    # Deploys and operators (see README "Reliability" and "Production layout").
    rtp_ports: str = _opt("RTP port range LOW-HIGH (RTP even, RTCP odd; publish the same range from the container)",
                          "20000-30000")
    media_host: str | None = _opt("address put in SDP c= only (the published RTP ports' host; None: the advertised one)")
    drain_deadline: float = _opt("on SIGTERM: seconds the calls in progress may take to finish (new calls get 503) "
                                 "before the rest are hung up; a second signal stops at once", 300.0, ge=0)
    admin_user: str | None = _opt("the first admin's name, created at start-up when the store has no account yet")
    admin_password: SecretStr | None = _opt("the first admin's password (environment only: IVR_ADMIN_PASSWORD)")

    @field_validator("sip", "http", "sip_tls")
    @classmethod
    def _hostport(cls, value: str | None, info) -> str | None:
        if value is not None:
            parse_hostport(value, {"sip": 5070, "http": 8080}.get(info.field_name, 5061))
        return value

    @field_validator("rtp_ports")
    @classmethod
    def _rtp_ports(cls, value: str) -> str:
        from telephony.endpoint_config import port_range

        port_range(value)
        return value

    @field_validator("allow", "rate_exempt")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for net in value or []:
            ipaddress.ip_network(net, strict=False)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        turn_config(self)  # refuses bad end-of-turn values before anything starts
        if self.asr_second and not (Path(self.asr_second) / "model.bin").is_file():
            raise ValueError(f"asr_second: no Whisper model in {self.asr_second!r} (make models)")
        if self.sip_tls:
            if not (self.tls_cert and self.tls_key):
                raise ValueError("sip_tls: needs tls_cert and tls_key (PEM files)")
            for key in ("tls_cert", "tls_key"):
                if not Path(getattr(self, key)).is_file():
                    raise ValueError(f"{key}: no such file {getattr(self, key)!r}")
        if bool(self.admin_user) != bool(self.admin_password and self.admin_password.get_secret_value()):
            raise ValueError("admin_user: needs admin_password (IVR_ADMIN_PASSWORD), and the other way round")
        if self.worker_stale_s < 2 * self.heartbeat_s:
            raise ValueError("worker_stale_s: must be at least twice heartbeat_s")
        return self

    def secret_values(self) -> list[str]:
        """What must never reach a log line: the secrets, and the password in the store's URL."""
        from routing.agents import config_passwords

        values = [s.get_secret_value() for s in (self.secret, self.admin_token, self.admin_password) if s is not None]
        values.append(urlsplit(self.db).password if "@" in self.db else None)
        values += config_passwords(self.agents)  # the agents' REGISTER passwords too
        return [v for v in values if v]

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, _YamlFile(settings_cls, init_settings, env_settings)


class _YamlFile(PydanticBaseSettingsSource):
    """The `--config` file (named by the flag or IVR_CONFIG): under the environment, over the defaults."""

    def __init__(self, settings_cls, *earlier: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._earlier = earlier

    def get_field_value(self, field, field_name):  # the abstract per-field hook; __call__ reads the file whole
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = next((c for c in (s().get("config") for s in self._earlier) if c), None)
        if not path:
            return {}
        try:
            doc = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"--config {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise ValueError(f"--config {path}: must be a mapping")
        unknown = set(doc) - (set(self.settings_cls.model_fields) - {"config", "secret", "admin_token", "admin_password"})
        if unknown:  # secrets come from the environment only: a config file is often checked in
            raise ValueError(f"--config {path}: unknown setting {sorted(unknown)[0]!r}")
        return doc


def load_settings(args=None, **overrides: Any) -> Settings:
    """Settings from the command line's flags (an argparse namespace) over the environment and file.

    A flag not given (None, or an empty list for a repeatable one) leaves the key to the others.
    Raises ValueError (pydantic's ValidationError is one) naming the key that is wrong.
    """
    flags = {k: v for k in Settings.model_fields if (v := getattr(args, k, None)) is not None and v != []}
    try:
        return Settings(**{**flags, **overrides})
    except ValidationError as exc:  # one line per key at fault, each naming it
        raise ValueError("; ".join(_explain(e) for e in exc.errors())) from None


def _explain(error: dict) -> str:
    """'key: what is wrong (got value)'; a secret's value (or the store URL's) never reaches the message."""
    msg, loc = error["msg"].removeprefix("Value error, "), error["loc"]
    if not loc:
        return msg
    got = "" if loc[0] in ("secret", "admin_token", "admin_password", "db", "agents") else f" (got {error['input']!r})"
    return f"{'.'.join(map(str, loc))}: {msg}{got}"


def turn_config(settings: Settings | dict):
    """End-of-turn settings (voice.turns.TurnConfig) from the service's; None keeps TurnConfig's own."""
    from voice.turns import TurnConfig

    get = settings.get if isinstance(settings, dict) else (lambda k: getattr(settings, k))
    base = TurnConfig(**{k: int(get(k)) for k in ("silence_ms", "pause_ms", "smart_turn_ms") if get(k) is not None})
    waits = {f: int(get(k)) for k, f in (("number_wait_ms", "pending_ms"), ("hesitation_ms", "unfinished_ms"))
             if get(k) is not None}
    if any(v <= 0 for v in waits.values()):
        raise ValueError("number_wait_ms and hesitation_ms must be positive")
    return dataclasses.replace(base, end=dataclasses.replace(base.end, **waits)) if waits else base
