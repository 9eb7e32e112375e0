"""The PGO harness: the suite plays the DVA and the stelselnode, and records what a PGO sends.

It is the embedded reference DVA (:class:`validatiestraat.reference.server.ReferenceDVA`, strict)
in *harness mode*, not a second server::

    from validatiestraat.pgo.harness import PGOHarness

    with PGOHarness(workdir, "pgo.example.nl", "https://pgo.example.nl/callback") as harness:
        harness.urls["zal"]                      # the PGO starts here
        since = harness.mark()
        ...                                      # make the PGO act (pgo/driver.py)
        await harness.wait_for("token", since, timeout=20)
        harness.seen(since, "token")             # [Seen, ...] (validatiestraat.pgo.model)

Two HTTPS listeners on 127.0.0.1 (URLs use ``localhost``; fixed ports with ``ports``):

- frontchannel (server certificate only): the authorization endpoint ``/oauth/authorize`` and
  the MedMij lists ``/MedMij_*.xml?api=2``;
- backchannel (mutual TLS): the token endpoint ``/oauth/token`` and the FHIR STU3 base ``/fhir``
  (gegevensdienst 48, catalogued queries only). Client certificates must chain to the harness's
  test CA (it issues one for the PGO: ``urls["client_certificate"]``/``["client_key"]``, CN and
  DNS name = client_id) or to ``client_ca``; the client is recognised by the certificate's CN or
  DNS name being its client_id.

``host`` listens on another IPv4 address or name instead (used in the URLs and added to the
server certificate). :attr:`PGOHarness.urls` after start(): ``authorization``, ``token``,
``resource``, ``zal``, ``ocl``, ``whitelist``, ``gnl`` (with ``?api=2``), ``interfaceversie``,
``aanbieder``, ``gegevensdienst``, ``ca`` (PEM file of the CA of the harness's server
certificates, for the PGO to trust), ``client_certificate`` and ``client_key`` (PEM files),
``other_interfaceversie``, ``other_gegevensdienst``, ``other_authorization``, ``other_token``,
``other_resource``, ``consents``, ``frontchannel`` and ``backchannel``.

**The DVA side.** The OAuth Client List holds one client, the PGO under test (Hostname =
client_id, OAuthclientOrganisatienaam = organisation_name). Its ``redirect_uri`` is accepted
exactly as given; any other redirect_uri is judged by the reference DVA's rules (https, the
client's host, no fragment ...), as are client_id and scope (unknown client or bad redirect_uri:
an error page; bad scope, missing state, wrong response_type: an error redirect). A valid
authorization request is answered at once, without login or consent pages, as test person 1
(data for 48 and 49), as scripted by :meth:`PGOHarness.answer` (``BEHAVIOURS`` in
:mod:`validatiestraat.pgo.model`):

- ``approve`` (default): 302 to the redirect_uri with a fresh code and the state unchanged
  (percent-encoded; a space as %20);
- ``deny``: ``error=access_denied`` with the state; ``server_error``: ``error=server_error``
  with the state (no code in either);
- ``tamper_state``: a fresh valid code with the state whose last character is changed;
  ``unknown_state``: a fresh valid code with a random state the PGO never sent;
  ``replay_state``: a fresh valid code with the state of the previous flow answered ``approve``
  (with none before it: a random state, recorded as ``unknown_state``).

The token endpoint is the reference DVA's (form-encoded POST, one-time codes, refresh rotation,
expires_in 900) unless scripted: ``server_error`` (HTTP 500 ``{"error": "server_error"}``; the
code or refresh token is not consumed), ``no_refresh_token`` (the response lacks refresh_token
and the issued one is withdrawn), ``no_scope`` (the response lacks scope), ``short_lived``
(``expires_in`` 2; the access token is refused after 2 s). The resource server is the reference
DVA's unless scripted ``invalid_token``: 401 with ``WWW-Authenticate: Bearer realm=...,
error="invalid_token"`` and an OperationOutcome.

**The stelselnode side.** ZAL, OCL, Whitelist and GNL (built with
:func:`validatiestraat.lists.build.build_lists`) are published on the frontchannel at the paths
the reference DVA uses, with ``?api=2`` in ``urls``. Each publication of a list gets the next
Volgnummer (the first is 100); :meth:`PGOHarness.set_list` publishes a list anew in a mode
(``LIST_MODES``):

- ``normal``: the list as described here;
- ``without_dva_host`` (Whitelist only): the harness's host (every DVA endpoint) is left out;
- ``lower_volgnummer``: a Volgnummer one lower than the last published; in the ZAL the aanbieder's
  endpoints then point at the ``/other-interfaceversie/`` decoys, so a PGO that accepts it shows it;
- ``schema_invalid``: Volgnummer put before Tijdstempel, which breaks the XSD's element order;
- ``empty``: HTTP 200 with an empty body (no XML at all; a PGO must reject it and keep its last
  good copy. An empty list element was not chosen: ``<Zorgaanbieders/>`` is schema-valid for
  the ZAL, so a PGO could not be faulted for reading it). It carries no Volgnummer.

What the **ZAL** publishes exactly: one Zorgaanbieder, ``referentiezorgaanbieder@medmij``
(``urls["aanbieder"]``), Aanbiedertype ``ZA``, with two Interfaceversies, in this order:

1. ``2.3.0`` (``urls["other_interfaceversie"]``): only gegevensdienst 49
   (``urls["other_gegevensdienst"]``), at endpoints under ``/other-interfaceversie/``:
   ``urls["other_authorization"]`` (frontchannel ``/other-interfaceversie/oauth/authorize``),
   ``urls["other_token"]`` and ``urls["other_resource"]`` (backchannel
   ``/other-interfaceversie/oauth/token`` and ``/other-interfaceversie/fhir``), Systeemrol
   ``MM-2.1-BZB-FHIR``. These endpoints answer 404; requests to them are recorded with
   endpoint ``other``;
2. ``2.2.4`` (``urls["interfaceversie"]``): gegevensdienst 48 (``urls["gegevensdienst"]``) at
   ``urls["authorization"]``, ``urls["token"]`` and ``urls["resource"]`` (Systeemrol
   ``MM-2.1-BZB-FHIR``).

A PGO that takes the endpoints per interfaceversie uses 2.2.4 for gegevensdienst 48; one that
takes the first or the highest interfaceversie regardless of the gegevensdienst calls the
``/other-interfaceversie/`` endpoints (PGO-LIST-04). The **OCL** holds the PGO under test, the
**GNL** gegevensdiensten 48 and 49, the **Whitelist** the harness's host and the client's
hostname.

"Beheren toestemmingen" stays where the reference DVA has it (``urls["consents"]``; test person
``testpersoon``, password ``validatiestraat-test``): the consents the harness granted are test
person 1's. ``urls`` also names ``frontchannel`` and ``backchannel`` (scheme, host and port).

**Recording.** Every request on either listener becomes a :class:`~validatiestraat.pgo.model.Seen`
(index in arrival order, also for requests refused before they reached an application). With
:meth:`PGOHarness.attach` each is also added to the run's Recorder as an Exchange (scenario and
step from :attr:`PGOHarness.context`), and every code, access token and refresh token the harness
issues or the PGO presents is registered as a secret so that reports redact it.

All methods are thread-safe: the listeners answer in their own threads.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lxml import etree

from validatiestraat.lists.build import LIST_PATHS, build_lists
from validatiestraat.lists.checks import utcnow_tijdstempel
from validatiestraat.pgo.model import BEHAVIOURS, LIST_MODES, Seen
from validatiestraat.reference.fhir import JSON_TYPE as FHIR_JSON
from validatiestraat.reference.oauth import AANBIEDER, GNL, Flow, OclEntry
from validatiestraat.reference.server import HarnessMode, ReferenceDVA
from validatiestraat.reference.tlsconfig import BACK, FRONT
from validatiestraat.reference.web import App, Request, Response

#: the Zorgaanbiedernaam of the harness's DVA in the ZAL
AANBIEDER_NAME = f"{AANBIEDER}@medmij"
#: the interfaceversie under which the ZAL offers the harness's gegevensdienst
INTERFACEVERSIE = "2.2.4"
#: a second, higher interfaceversie listed first, offering only OTHER_GEGEVENSDIENST (PGO-LIST-04)
OTHER_INTERFACEVERSIE = "2.3.0"
OTHER_GEGEVENSDIENST = "49"
#: path prefix of the other interfaceversie's endpoints (on both listeners; they answer 404)
OTHER_PREFIX = "/other-interfaceversie"
SYSTEEMROL = "MM-2.1-BZB-FHIR"
#: the Volgnummer of the first publication of each list
FIRST_VOLGNUMMER = 100
#: lifetime of an access token issued under the token behaviour short_lived
SHORT_LIFETIME = 2  # an integer: expires_in is a number of seconds (RFC 6749 §5.1)
#: how often wait_for looks at the log
POLL_SECONDS = 0.02
#: bytes of a body kept in a recorded Exchange
MAX_EXCHANGE_BODY = 512 * 1024
LIST_KINDS = ("zal", "ocl", "whitelist", "gnl")
SECRET_KINDS = ("code", "access_token", "refresh_token")
FORM_TYPE = "application/x-www-form-urlencoded"
_LIST_PATH_KIND = {path: kind for kind, path in LIST_PATHS.items()}


@dataclass
class _Publication:
    mode: str
    volgnummer: int | None  # None: no Volgnummer (empty body)
    body: bytes
    published: float  # time.monotonic()


def classify(channel: str, path: str) -> str:
    """The endpoint (``validatiestraat.pgo.model.ENDPOINTS``) a request path of a listener is."""
    if channel == FRONT:
        if path == "/oauth/authorize":
            return "authorize"
        if path in _LIST_PATH_KIND:
            return "lists"
        return "other"
    if path == "/oauth/token":
        return "token"
    if path == "/fhir" or path.startswith("/fhir/"):
        return "resource"
    return "other"


def _tamper(state: str) -> str:
    last = state[-1:] or "x"
    return state[:-1] + ("A" if last != "A" else "B")


def _location_param(response: Response, name: str) -> str | None:
    location = response.header("Location")
    if not location:
        return None
    for k, v in parse_qsl(urlsplit(location).query, keep_blank_values=True):
        if k == name:
            return v
    return None


def _token_params(req: Request) -> dict[str, str]:
    """The parameters of a token request, form-encoded or JSON (first value wins), leniently."""
    ctype = req.content_type
    if ctype == "application/json" or ctype.endswith("+json") or req.body.lstrip().startswith(b"{"):
        try:
            data = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return {}
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int, float))}
        return {}
    return req.form_dict()


class PGOHarness:
    """The PGO harness (see the module docstring); implements ``validatiestraat.pgo.model.Harness``."""

    def __init__(
        self,
        workdir: Path | str,
        client_id: str,
        redirect_uri: str,
        organisation_name: str = "Test PGO",
        client_ca: Path | str | None = None,
        gegevensdienst: str = "48",
        ports: dict[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        verbose: bool = False,
    ):
        if not client_id or client_id != client_id.strip():
            raise ValueError("client_id must be the PGO's OCL Hostname (not empty, no spaces)")
        if not redirect_uri:
            raise ValueError("redirect_uri must be the PGO's registered redirect_uri")
        if str(gegevensdienst) != "48":
            raise ValueError(f"the harness serves gegevensdienst 48 (the reference resource server's), "
                             f"not {gegevensdienst}")
        self.workdir = Path(workdir)
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.organisation_name = organisation_name
        self.client_ca = Path(client_ca) if client_ca is not None else None
        if self.client_ca is not None and not self.client_ca.is_file():
            raise ValueError(f"client_ca {self.client_ca} is not a file")
        self.gegevensdienst = str(gegevensdienst)
        self.ports: dict[str, int] = dict(ports or {})
        unknown = set(self.ports) - {"front", "back"}
        if unknown:
            raise ValueError(f"ports: unknown listener(s) {', '.join(sorted(unknown))}; known: front, back")
        self.host = host
        self.verbose = verbose
        #: (scenario id, step name) of the exchanges recorded from now on (set by the engine)
        self.context: tuple[str, str] = ("pgo-harness", "")
        #: free for the step kinds: the scenario that last reset the harness
        self.scenario: str | None = None
        #: the harness's endpoints and files (see the module docstring); filled by start()
        self.urls: dict[str, str] = {}
        self.dva: ReferenceDVA | None = None
        self._cond = threading.Condition()
        self._local = threading.local()
        self._log: list[Seen] = []
        self._next_index = 0
        self._script: dict[str, list[Any]] = {}  # endpoint -> [behaviour, remaining or None]
        self._issued: dict[str, list[tuple[str, float]]] = {k: [] for k in SECRET_KINDS}
        self._presented: collections.Counter[str] = collections.Counter()
        self._secrets: set[str] = set()
        self._last_approved_state: str | None = None
        self._recorder: Any = None
        self._lists: dict[str, _Publication] = {}
        self._highest: dict[str, int] = {}
        self._last_normal: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "PGOHarness":
        if self.dva is not None:
            raise RuntimeError("the PGO harness is already running")
        mode = HarnessMode(
            clients=(OclEntry(self.client_id, self.organisation_name,
                              frozenset({self.gegevensdienst, OTHER_GEGEVENSDIENST})),),
            redirect_uris={self.client_id: self.redirect_uri},
            client_cas=(self.client_ca,) if self.client_ca is not None else (),
            authorize=self._authorize,
            wrap=self._wrap,
            lists=self.lists,
        )
        dva = ReferenceDVA(self.workdir, strict=True, verbose=self.verbose, observer=self._observe,
                           ports=self.ports, host=self.host, harness=mode)
        dva.start()
        self.dva = dva
        try:
            assert dva.pki is not None
            front, back = dva.frontchannel_url, dva.backchannel_url
            self.urls = {
                "authorization": f"{front}/oauth/authorize",
                "token": f"{back}/oauth/token",
                "resource": f"{back}/fhir",
                **{kind: f"{front}{path}?api=2" for kind, path in LIST_PATHS.items()},
                "interfaceversie": INTERFACEVERSIE,
                "aanbieder": AANBIEDER_NAME,
                "gegevensdienst": self.gegevensdienst,
                "ca": str(dva.pki.ca_path),
                "client_certificate": str(dva.pki.client.cert_path),
                "client_key": str(dva.pki.client.key_path),
                "other_interfaceversie": OTHER_INTERFACEVERSIE,
                "other_gegevensdienst": OTHER_GEGEVENSDIENST,
                "other_authorization": f"{front}{OTHER_PREFIX}/oauth/authorize",
                "other_token": f"{back}{OTHER_PREFIX}/oauth/token",
                "other_resource": f"{back}{OTHER_PREFIX}/fhir",
                "consents": f"{front}/oauth/consents",
                "frontchannel": front,
                "backchannel": back,
            }
            with self._cond:
                for kind in LIST_KINDS:
                    self._publish(kind, "normal")
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both listeners, close open connections and wait for their threads."""
        dva, self.dva = self.dva, None
        if dva is not None:
            dva.stop()

    def __enter__(self) -> "PGOHarness":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.dva is not None and self.dva.running

    def _require_running(self) -> ReferenceDVA:
        if self.dva is None or self.dva.auth is None:
            raise RuntimeError("start() the PGO harness first")
        return self.dva

    # ------------------------------------------------------------------ the run's recorder
    def attach(self, recorder: Any) -> None:
        """Record every request from now on in ``recorder`` (a ``validatiestraat.engine.context.Recorder``)
        too; the secrets issued and presented so far are registered with it at once. ``None``
        detaches the recorder."""
        with self._cond:
            self._recorder = recorder
            known = list(self._secrets)
        if recorder is not None:
            for value in known:
                recorder.secret(value)

    def _secret(self, *values: str | None) -> None:
        new = [v for v in values if v]
        with self._cond:
            self._secrets.update(new)
            recorder = self._recorder
        if recorder is not None:
            for value in new:
                recorder.secret(value)

    # ------------------------------------------------------------------ scripted answers
    def answer(self, endpoint: str, behaviour: str, count: int | None = 1) -> None:
        """Answer the next ``count`` requests of ``endpoint`` (authorize, token, resource) this way;
        ``count=None``: every request until :meth:`answer` or :meth:`reset` changes it. A new call
        replaces what was scripted for the endpoint; the default behaviour clears it."""
        if endpoint not in BEHAVIOURS:
            raise ValueError(f"no scripted answers for endpoint {endpoint!r}; known: {', '.join(BEHAVIOURS)}")
        if behaviour not in BEHAVIOURS[endpoint]:
            raise ValueError(f"unknown behaviour {behaviour!r} for {endpoint}; known: "
                             f"{', '.join(BEHAVIOURS[endpoint])}")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive whole number or None")
        with self._cond:
            if behaviour == BEHAVIOURS[endpoint][0]:
                self._script.pop(endpoint, None)
            else:
                self._script[endpoint] = [behaviour, count]

    def _take(self, endpoint: str) -> str:
        """The behaviour for this request of ``endpoint`` (consumes a counted script)."""
        with self._cond:
            script = self._script.get(endpoint)
            if script is None:
                return BEHAVIOURS[endpoint][0]
            behaviour, remaining = script
            if remaining is not None:
                if remaining <= 1:
                    del self._script[endpoint]
                else:
                    script[1] = remaining - 1
            return str(behaviour)

    def reset(self) -> None:
        """Default answers and normal lists again (a list not in normal mode is published anew);
        the log, the issued codes and tokens and the presentations are kept."""
        with self._cond:
            self._script.clear()
            if self.dva is not None:
                for kind in LIST_KINDS:
                    pub = self._lists.get(kind)
                    if pub is None or pub.mode != "normal":
                        self._publish(kind, "normal")

    # ------------------------------------------------------------------ the log
    def mark(self) -> int:
        """The index the next request will get (a scenario's window starts here)."""
        with self._cond:
            return self._next_index

    def seen(self, since: int = 0, endpoint: str | None = None) -> list[Seen]:
        """Requests from index ``since`` on (in index order), optionally only those of one endpoint."""
        with self._cond:
            return [s for s in self._log if s.index >= since and (endpoint is None or s.endpoint == endpoint)]

    async def wait_for(self, endpoint: str | None, since: int, timeout: float, count: int = 1) -> list[Seen]:
        """Wait at most ``timeout`` s until ``count`` requests of ``endpoint`` (None: any) arrived
        since ``since``; returns what arrived (fewer when the deadline passed)."""
        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            got = self.seen(since, endpoint)
            left = deadline - time.monotonic()
            if len(got) >= count or left <= 0:
                return got
            await asyncio.sleep(min(POLL_SECONDS, left))

    def wait_for_sync(self, endpoint: str | None, since: int, timeout: float, count: int = 1) -> list[Seen]:
        """:meth:`wait_for` for threads without an event loop (e.g. a manual driver)."""
        deadline = time.monotonic() + max(0.0, float(timeout))
        with self._cond:
            while True:
                got = [s for s in self._log if s.index >= since and (endpoint is None or s.endpoint == endpoint)]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(min(left, 0.5))

    # ------------------------------------------------------------------ codes and tokens
    def issued(self, kind: str) -> list[tuple[str, float]]:
        """Every ``code``, ``access_token`` or ``refresh_token`` the harness gave the PGO, with
        ``time.monotonic()`` of issuance, in order (a refresh token withdrawn by
        ``no_refresh_token`` was never given and is not listed)."""
        if kind not in SECRET_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SECRET_KINDS)}")
        with self._cond:
            return list(self._issued[kind])

    def presentations(self, value: str) -> int:
        """How many token requests presented this code or refresh token (whatever the answer,
        also an HTTP 500)."""
        with self._cond:
            return self._presented[value]

    def _issue(self, kind: str, value: str | None) -> None:
        if not value:
            return
        with self._cond:
            self._issued[kind].append((value, time.monotonic()))
        self._secret(value)

    # ------------------------------------------------------------------ lists
    def set_list(self, kind: str, mode: str) -> None:
        """Publish list ``kind`` (zal, ocl, whitelist, gnl) in ``mode`` (``LIST_MODES``) from now on;
        every call is a new publication."""
        if kind not in LIST_KINDS:
            raise ValueError(f"unknown list {kind!r}; known: {', '.join(LIST_KINDS)}")
        if mode not in LIST_MODES:
            raise ValueError(f"unknown list mode {mode!r}; known: {', '.join(LIST_MODES)}")
        if mode == "without_dva_host" and kind != "whitelist":
            raise ValueError("without_dva_host applies to the whitelist only")
        self._require_running()
        with self._cond:
            self._publish(kind, mode)

    def list_state(self, kind: str) -> dict[str, Any]:
        """What list ``kind`` currently publishes: ``mode``, ``volgnummer`` (None when empty),
        ``published`` (time.monotonic()) and ``highest`` (the highest Volgnummer ever published)."""
        with self._cond:
            pub = self._lists[kind]
            return {"mode": pub.mode, "volgnummer": pub.volgnummer, "published": pub.published,
                    "highest": self._highest.get(kind)}

    def lists(self) -> dict[str, bytes]:
        """The lists as currently published (kind -> bytes)."""
        with self._cond:
            return {kind: pub.body for kind, pub in self._lists.items()}

    def _publish(self, kind: str, mode: str) -> None:
        # holds self._cond
        last = self._lists.get(kind)
        highest = self._highest.get(kind, FIRST_VOLGNUMMER - 1)
        if mode == "empty":
            volgnummer = None
        elif mode == "lower_volgnummer":
            # lower than the last publication a conforming PGO holds: the last normal one
            base = self._last_normal.get(kind, highest)
            volgnummer = base - 1
            if volgnummer < 1:
                raise ValueError(f"the {kind} cannot be published with a Volgnummer lower than {base}")
        else:
            volgnummer = highest + 1
        body = b"" if volgnummer is None else self._build(kind, mode, volgnummer)
        self._lists[kind] = _Publication(mode, volgnummer, body, time.monotonic())
        if volgnummer is not None and volgnummer > highest:
            self._highest[kind] = volgnummer
        if mode == "normal" and volgnummer is not None:
            self._last_normal[kind] = volgnummer

    def _build(self, kind: str, mode: str, volgnummer: int) -> bytes:
        urls = self.urls
        tijdstempel = utcnow_tijdstempel()
        clients = [(self.client_id, self.organisation_name)]

        def build(gegevensdiensten: dict[str, str], endpoints: dict[str, str], interfaceversie: str) -> dict[str, bytes]:
            return build_lists(AANBIEDER, endpoints, clients, gegevensdiensten, interfaceversie=interfaceversie,
                               volgnummer=volgnummer, tijdstempel=tijdstempel, systeemrol=SYSTEEMROL,
                               break_schema=kind if mode == "schema_invalid" else False,
                               missing_from_whitelist=mode == "without_dva_host")

        endpoints = {name: urls[name] for name in ("authorization", "token", "resource")}
        if kind == "zal" and mode == "lower_volgnummer":
            # a PGO that accepts this publication shows it: the aanbieder's endpoints move to the
            # decoy paths (recorded as endpoint "other"), so using them is visible (PGO-LIST-03)
            endpoints = {name: urls[f"other_{name}"] for name in ("authorization", "token", "resource")}
        if kind == "gnl":
            both = {g: GNL[g] for g in (self.gegevensdienst, OTHER_GEGEVENSDIENST)}
            return build(both, endpoints, INTERFACEVERSIE)["gnl"]
        main = build({self.gegevensdienst: GNL[self.gegevensdienst]}, endpoints, INTERFACEVERSIE)
        if kind != "zal":
            return main[kind]
        other_endpoints = {name: urls[f"other_{name}"] for name in ("authorization", "token", "resource")}
        other = build({OTHER_GEGEVENSDIENST: GNL[OTHER_GEGEVENSDIENST]}, other_endpoints, OTHER_INTERFACEVERSIE)
        return _merge_interfaceversies(main["zal"], other["zal"])

    # ------------------------------------------------------------------ hooks of the reference DVA
    def _claim(self) -> int:
        with self._cond:
            index = self._next_index
            self._next_index += 1
            return index

    def _wrap(self, channel: str, app: App) -> App:
        def wrapped(req: Request) -> Response:
            self._local.index = self._claim()
            self._local.behaviour = ""
            endpoint = classify(channel, req.path)
            if endpoint == "token":
                return self._token(req, app)
            if endpoint == "resource":
                return self._resource(req, app)
            return app(req)  # authorize: _authorize() below; lists: lists()

        return wrapped

    def _authorize(self, flow: Flow) -> Response:
        """A valid authorization request, answered as scripted (no pages)."""
        auth = self._require_running().auth
        assert auth is not None
        behaviour = self._take("authorize")
        if behaviour in ("deny", "server_error"):
            self._local.behaviour = behaviour
            description = ("the test person did not give consent" if behaviour == "deny"
                           else "the authorization server met an unexpected condition")
            return auth.decide(flow, behaviour, description=description)
        state: str | None = None
        if behaviour == "tamper_state":
            state = _tamper(flow.state)
        elif behaviour == "replay_state":
            with self._cond:
                state = self._last_approved_state
            if state is None:
                behaviour = "unknown_state"  # nothing to replay yet
        if behaviour == "unknown_state":
            state = "unknown-" + secrets.token_urlsafe(18)
        self._local.behaviour = behaviour
        response = auth.decide(flow, "approve", state=state)
        code = _location_param(response, "code")
        self._issue("code", code)
        if code and behaviour == "approve":
            with self._cond:
                self._last_approved_state = flow.state
        return response

    def _token(self, req: Request, app: App) -> Response:
        dva = self._require_running()
        assert dva.auth is not None
        params = _token_params(req)
        presented = [params[k] for k in ("code", "refresh_token") if params.get(k)]
        with self._cond:
            for value in presented:
                self._presented[value] += 1
        self._secret(*presented)
        behaviour = self._take("token")
        self._local.behaviour = behaviour
        if behaviour == "server_error":
            return Response.json(500, {"error": "server_error",
                                       "error_description": "the token endpoint met an unexpected condition"},
                                 extra=[("Cache-Control", "no-store"), ("Pragma", "no-cache")])
        response = app(req)
        if response.status != 200:
            return response
        try:
            body = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return response
        if not isinstance(body, dict):
            return response
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if behaviour == "no_refresh_token" and refresh:
            dva.auth.withdraw_refresh_token(str(refresh))
            self._secret(str(refresh))
            body.pop("refresh_token", None)
            refresh = None
        if behaviour == "no_scope":
            body.pop("scope", None)
        if behaviour == "short_lived" and access:
            dva.auth.shorten_access_token(str(access), SHORT_LIFETIME)
            body["expires_in"] = SHORT_LIFETIME
        self._issue("access_token", str(access) if access else None)
        self._issue("refresh_token", str(refresh) if refresh else None)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(response.status, list(response.headers), data)

    def _resource(self, req: Request, app: App) -> Response:
        scheme, _, value = (req.header("Authorization") or "").strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            self._secret(value.strip())
        behaviour = self._take("resource")
        self._local.behaviour = behaviour
        if behaviour != "invalid_token":
            return app(req)
        outcome = {"resourceType": "OperationOutcome",
                   "issue": [{"severity": "error", "code": "login", "diagnostics": "the access token is not valid"}]}
        headers = [("WWW-Authenticate", f'Bearer realm="{AANBIEDER}", error="invalid_token", '
                                        'error_description="the access token is not valid"'),
                   ("Cache-Control", "no-store")]
        for name in ("MedMij-Request-ID", "X-Correlation-ID"):
            if req.header(name):
                headers.append((name, str(req.header(name))))
        return Response.json(401, outcome, content_type=FHIR_JSON, extra=headers)

    def _observe(self, req: Request, response: Response, arrived: float) -> None:
        index = getattr(self._local, "index", None)
        behaviour = getattr(self._local, "behaviour", "")
        self._local.index, self._local.behaviour = None, ""
        if index is None:  # refused before an application saw it (e.g. a chunked body)
            index = self._claim()
        form = req.form() if req.content_type == FORM_TYPE else None
        seen = Seen(
            index=index,
            time=arrived,
            endpoint=classify(req.channel, req.path),
            method=req.method,
            path=req.path,
            raw_query=req.raw_query,
            query=req.query,
            headers=[(str(k), str(v)) for k, v in req.headers.items()],
            body=req.body,
            form=form,
            host=req.header("Host") or "",
            client_certificate=frozenset(req.peer_names),
            status=response.status,
            response_headers=list(response.headers),
            response_body=response.body,
            behaviour=behaviour,
        )
        with self._cond:
            recorder, context = self._recorder, self.context
        if recorder is not None:
            try:
                seen.exchange_id = self._record(recorder, context, req, response, arrived)
            except Exception as exc:  # the Seen is kept whatever happens to its evidence
                if self.dva is not None:
                    self.dva.note({"event": "error", "error": f"recording an exchange: {type(exc).__name__}: {exc}"})
        with self._cond:
            position = len(self._log)
            while position > 0 and self._log[position - 1].index > index:
                position -= 1
            self._log.insert(position, seen)
            self._cond.notify_all()

    def _record(self, recorder: Any, context: tuple[str, str], req: Request, response: Response,
                arrived: float) -> str:
        from validatiestraat.report.model import Exchange

        now = time.monotonic()
        started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=now - arrived)
        exchange_id = recorder.next_id()
        url = req.base_url + req.raw_path + (f"?{req.raw_query}" if req.raw_query else "")
        recorder.add(Exchange(
            id=exchange_id,
            scenario=context[0],
            step=context[1],
            method=req.method,
            url=url,
            request_headers=[(str(k), str(v)) for k, v in req.headers.items()],
            request_body=_text(req.body),
            status=response.status,
            response_headers=list(response.headers),
            response_body=_text(response.body),
            elapsed_ms=round((now - arrived) * 1000, 1),
            started=started.isoformat(timespec="milliseconds"),
        ))
        return exchange_id


def _text(body: bytes) -> str | None:
    if not body:
        return None
    return body[:MAX_EXCHANGE_BODY].decode("utf-8", "replace")


def _merge_interfaceversies(zal: bytes, other: bytes) -> bytes:
    """``zal`` with the Interfaceversie of ``other`` inserted before its own (both built by
    build_lists for the same aanbieder)."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(zal, parser)
    other_root = etree.fromstring(other, parser)
    ns = root.nsmap.get(None)
    path = "/".join(f"{{{ns}}}{name}" for name in ("Zorgaanbieders", "Zorgaanbieder", "Interfaceversies"))
    target = root.find(path)
    extra = other_root.find(path + f"/{{{ns}}}Interfaceversie")
    if target is None or extra is None:  # pragma: no cover - build_lists always writes both
        raise RuntimeError("the ZAL has no Interfaceversies to extend")
    target.insert(0, extra)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
