"""Explain transport-level failures: why a connection or TLS handshake did not lead to an HTTP answer.

httpx wraps httpcore, which wraps anyio and ``ssl``/``OSError``; what reaches a caller is often a
bare ``ConnectError('')`` or ``ReadError('')``. :func:`classify` walks the exception and its
``__cause__``/``__context__`` chain and returns a stable code; :func:`explain` returns one
sentence for a report, always with ``host:port`` and the original exception in short.

Codes (:data:`CODES`):

``client_certificate_required``
    the server demanded a client certificate that was not presented (TLS 1.3 alert
    ``certificate_required``, or, with a :class:`Handshake` trace, a CertificateRequest answered
    with an empty Certificate and then an alert or a hang-up).
``client_certificate_refused``
    the server refused the client certificate that was presented (alerts ``unknown_ca``,
    ``bad_certificate``, ``certificate_expired``, ...).
``handshake_failure``
    TLS 1.2 alert ``handshake_failure`` with nothing to tell its two usual causes apart: a demanded
    client certificate, or no common cipher suite. With a :class:`Handshake` trace this becomes
    ``client_certificate_required``/``client_certificate_refused`` (the alert came after a
    CertificateRequest) or ``protocol_mismatch`` (it came right after our ClientHello).
``server_certificate_invalid``
    the server's certificate failed our verification (unknown issuer, hostname, expired, ...).
``protocol_mismatch``
    no common protocol version or cipher suite.
``not_tls``
    the server did not answer in TLS (e.g. plain HTTP on the port).
``connection_refused``, ``connection_reset``, ``connection_closed``
    nothing listens; the peer reset the connection or closed it during the handshake; the peer
    closed it after the handshake without an HTTP response.
``dns``, ``timeout``, ``other``

**Handshake traces.** A TLS 1.2 ``handshake_failure`` alert, and a server that hangs up instead of
sending an alert, cannot be explained from the exception alone. :func:`trace_handshakes` installs
a message callback on an ``ssl.SSLContext`` (CPython's ``SSLContext._msg_callback``, the hook
behind OpenSSL's ``SSL_CTX_set_msg_callback``) that records, per asyncio task / thread (a
``ContextVar``), what the last handshake saw: a CertificateRequest, the Certificate we sent (empty
or not), alerts. :func:`last_handshake` returns that record right after a failed request; pass it
as ``handshake=`` to :func:`classify`/:func:`explain`. Without it both still work, with the
ambiguity stated in the text.
"""

from __future__ import annotations

import contextvars
import errno as errno_
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CODES: tuple[str, ...] = (
    "client_certificate_required",
    "client_certificate_refused",
    "handshake_failure",
    "server_certificate_invalid",
    "protocol_mismatch",
    "not_tls",
    "connection_refused",
    "connection_reset",
    "connection_closed",
    "dns",
    "timeout",
    "other",
)

FRONTCHANNEL_NOTE = "on the MedMij frontchannel a browser presents no client certificate"
OFFERED = "TLS 1.2 or 1.3, with forward-secret AEAD cipher suites: ECDHE/DHE with AES-GCM or ChaCha20"

# TLS alert descriptions (RFC 8446 §6), by number: the msg callback reports numbers.
ALERTS: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
    45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
    71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}

#: alerts with which a server refuses a client certificate it got (or, from some servers, one it did not get)
_CERT_ALERTS = {
    "unknown_ca": "it does not trust the certificate's issuer (alert unknown_ca)",
    "bad_certificate": "it considers the certificate bad (alert bad_certificate)",
    "unsupported_certificate": "it does not support the certificate's type or usage (alert unsupported_certificate)",
    "certificate_revoked": "it considers the certificate revoked (alert certificate_revoked)",
    "certificate_expired": "it considers the certificate expired or not yet valid (alert certificate_expired)",
    "certificate_unknown": "it could not accept the certificate (alert certificate_unknown)",
    "access_denied": "it accepted the certificate but denies this client access (alert access_denied)",
    "decrypt_error": "the proof of possession of the certificate's key did not verify (alert decrypt_error)",
}
_PROTOCOL_ALERTS = {"protocol_version", "insufficient_security", "inappropriate_fallback"}
_PROTOCOL_REASONS = {
    "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE", "WRONG_SSL_VERSION", "VERSION_TOO_LOW",
    "VERSION_TOO_HIGH", "NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM",
    "UNSUPPORTED_SSL_VERSION", "TLSV1_ALERT_PROTOCOL_VERSION", "TLSV1_ALERT_INSUFFICIENT_SECURITY",
}
_NOT_TLS_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "RECORD_LAYER_FAILURE",
                    "PACKET_LENGTH_TOO_LONG"}

# OpenSSL X509_V_ERR_* codes -> what failed (ssl.SSLCertVerificationError.verify_code)
_VERIFY_REASONS: dict[int, str] = {
    2: "unknown issuer: the issuing CA's certificate is not among the trust anchors",
    9: "the certificate is not yet valid",
    10: "the certificate has expired",
    18: "the certificate is self-signed",
    19: "the chain ends in a self-signed root that is not among the trust anchors",
    20: "unknown issuer: no trust anchor or intermediate for the certificate's issuer "
        "(is the CA in `trust:`, and does the server send its intermediates?)",
    21: "unknown issuer: the server sent a single certificate whose issuer is not a trust anchor "
        "(missing intermediate?)",
    23: "the certificate has been revoked",
    24: "an intermediate is not a CA certificate",
    26: "the certificate may not be used for this purpose (extended key usage)",
    62: "hostname mismatch: the certificate is not valid for the host name",
    64: "IP address mismatch: the certificate is not valid for the IP address",
}


# --------------------------------------------------------------------------- handshake traces

@dataclass
class Handshake:
    """What the last TLS handshake of the current task saw (from :func:`trace_handshakes`)."""

    host: str | None
    server_hello: bool = False
    #: the server asked for a client certificate
    certificate_request: bool = False
    #: None: we sent no Certificate message; False: an empty one (no certificate); True: one with a certificate
    certificate_sent: bool | None = None
    #: the server's Finished arrived (the handshake completed on our side)
    server_finished: bool = False
    alerts_received: list[str] = field(default_factory=list)
    alerts_sent: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ["ClientHello"]
        if self.server_hello:
            parts.append("ServerHello")
        if self.certificate_request:
            parts.append("CertificateRequest")
        if self.certificate_sent is not None:
            parts.append("our Certificate " + ("(with a certificate)" if self.certificate_sent else "(empty)"))
        if self.server_finished:
            parts.append("server Finished")
        parts += [f"alert {a} received" for a in self.alerts_received]
        parts += [f"alert {a} sent" for a in self.alerts_sent]
        return ", ".join(parts)


_LAST: contextvars.ContextVar[Handshake | None] = contextvars.ContextVar("validatiestraat_last_handshake", default=None)

_HANDSHAKE, _ALERT = 22, 21
_CLIENT_HELLO, _SERVER_HELLO, _CERTIFICATE, _CERTIFICATE_REQUEST, _FINISHED = 1, 2, 11, 13, 20


def _on_message(conn, direction, version, content_type, msg_type, data) -> None:  # noqa: ANN001
    try:
        ctype, mtype = int(content_type), int(msg_type)
        if ctype == _HANDSHAKE:
            if direction == "write" and mtype == _CLIENT_HELLO:
                _LAST.set(Handshake(getattr(conn, "server_hostname", None)))
                return
            record = _LAST.get()
            if record is None:
                return
            if direction == "read":
                if mtype == _SERVER_HELLO:
                    record.server_hello = True
                elif mtype == _CERTIFICATE_REQUEST:
                    record.certificate_request = True
                elif mtype == _FINISHED:
                    record.server_finished = True
            elif mtype == _CERTIFICATE:
                # an empty Certificate message is 7 (TLS 1.2) or 8 (TLS 1.3) bytes with its header
                record.certificate_sent = len(data) > 16
        elif ctype == _ALERT:
            record = _LAST.get()
            if record is not None:
                name = ALERTS.get(mtype, f"alert {mtype}")
                (record.alerts_received if direction == "read" else record.alerts_sent).append(name)
    except Exception:  # a trace must never break a connection
        pass


def trace_handshakes(ctx: ssl.SSLContext) -> bool:
    """Record every handshake made with ``ctx`` (see the module docstring). Returns False when this
    Python has no message callback hook (then nothing is recorded and explanations are less exact)."""
    if not hasattr(ctx, "_msg_callback"):
        return False
    previous = getattr(ctx, "_msg_callback", None)
    if previous is _on_message or getattr(previous, "_validatiestraat", False):
        return True
    if previous is None:
        callback = _on_message
    else:
        def callback(*args):  # noqa: ANN002
            _on_message(*args)
            previous(*args)
        callback._validatiestraat = True  # type: ignore[attr-defined]
    try:
        ctx._msg_callback = callback  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        return False
    return True


def last_handshake(host: str | None = None) -> Handshake | None:
    """The record of the last handshake in this task/thread (with ``host``: only if it was to that host)."""
    record = _LAST.get()
    if record is None:
        return None
    if host is not None and record.host is not None and record.host.lower().strip("[]") != host.lower().strip("[]"):
        return None
    return record


def reset_handshake() -> None:
    """Forget the last handshake of this task (call before a request to be sure a record is fresh)."""
    _LAST.set(None)


# --------------------------------------------------------------------------- the exception chain

def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        todo += [e.__cause__, e.__context__]  # type: ignore[list-item]
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    return out


def _names(e: BaseException) -> set[str]:
    return {c.__name__ for c in type(e).__mro__}


def _ssl_reason(chain: list[BaseException]) -> str | None:
    """The OpenSSL reason (e.g. ``TLSV13_ALERT_CERTIFICATE_REQUIRED``) from the chain, from the
    ``reason`` attribute or from the ``[SSL: ...]`` text when httpx kept only the text."""
    for e in chain:
        reason = getattr(e, "reason", None)
        if isinstance(e, ssl.SSLError) and isinstance(reason, str) and reason:
            return reason.upper()
    for e in chain:
        text = str(e)
        if "[SSL: " in text:
            return text.split("[SSL: ", 1)[1].split("]", 1)[0].strip().upper()
        low = text.lower()
        for alert in ALERTS.values():
            if f"alert {alert.replace('_', ' ')}" in low:
                prefix = "TLSV13" if alert == "certificate_required" else "SSLV3"
                return f"{prefix}_ALERT_{alert.upper()}"
    return None


def _alert(reason: str | None) -> str | None:
    """``SSLV3_ALERT_HANDSHAKE_FAILURE`` -> ``handshake_failure``."""
    if reason and "_ALERT_" in reason:
        return reason.split("_ALERT_", 1)[1].lower()
    return None


def _verify_error(chain: list[BaseException]) -> tuple[int | None, str] | None:
    for e in chain:
        if isinstance(e, ssl.SSLCertVerificationError):
            return getattr(e, "verify_code", None), str(getattr(e, "verify_message", "") or e)
    for e in chain:
        text = str(e)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            detail = text.split("certificate verify failed:", 1)[-1].split("(_ssl.c", 1)[0].strip(" .")
            code = None
            low = detail.lower()
            for n, words in ((10, "expired"), (62, "hostname mismatch"), (64, "ip address mismatch"),
                             (19, "self-signed certificate in certificate chain"), (18, "self-signed certificate"),
                             (20, "unable to get local issuer"), (9, "not yet valid")):
                if words in low:
                    code = n
                    break
            return code, detail
    return None


def _errno(chain: list[BaseException], *codes: int) -> bool:
    return any(isinstance(e, OSError) and e.errno in codes for e in chain)


def _has(chain: list[BaseException], *names: str) -> bool:
    return any(_names(e) & set(names) for e in chain)


def _eof(chain: list[BaseException]) -> bool:
    return _has(chain, "SSLEOFError", "EndOfStream", "IncompleteRead") or _ssl_reason(chain) in (
        "UNEXPECTED_EOF_WHILE_READING", "EOF") or any("EOF occurred in violation of protocol" in str(e) for e in chain)


def _phase(exc: BaseException) -> str:
    """connect (TCP + TLS handshake), read, write or unknown: from the outermost httpx/httpcore type."""
    for e in _chain(exc):
        names = _names(e)
        if names & {"ConnectError", "ConnectTimeout"}:
            return "connect"
        if names & {"ReadError", "ReadTimeout", "RemoteProtocolError"}:
            return "read"
        if names & {"WriteError", "WriteTimeout"}:
            return "write"
        if names & {"PoolTimeout"}:
            return "pool"
    return "unknown"


def _inferred_from_trace(handshake: Handshake | None) -> str | None:
    """A hang-up or bare alert after a CertificateRequest: which client-certificate problem."""
    if handshake is None or not handshake.certificate_request:
        return None
    if handshake.certificate_sent:
        return "client_certificate_refused"
    return "client_certificate_required"


def classify(exc: BaseException, *, client_certificate: bool | None = None,
             handshake: Handshake | None = None) -> str:
    """A stable code for a transport failure (see :data:`CODES`).

    ``client_certificate``: whether the client context had a certificate to present (None:
    unknown); ``handshake``: the :func:`last_handshake` record, when traced."""
    return _analyse(exc, client_certificate, handshake)[0]


def _analyse(exc: BaseException, client_certificate: bool | None,
             handshake: Handshake | None) -> tuple[str, str]:
    """(code, detail sentence without host and exception)."""
    chain = _chain(exc)
    reason = _ssl_reason(chain)
    alert = _alert(reason)
    if handshake is not None and not alert and handshake.alerts_received:
        alert = handshake.alerts_received[-1]
    sent: bool | None = client_certificate
    if handshake is not None and handshake.certificate_sent is not None:
        sent = handshake.certificate_sent
    elif handshake is not None and handshake.certificate_request and handshake.server_finished:
        sent = False  # TLS 1.3 sends an (empty) Certificate after a request; none recorded: none sent

    # -- timeouts (before anything else: a stalled handshake also shows SSLWantReadError)
    if _has(chain, "TimeoutException", "TimeoutError", "timeout", "ConnectTimeout", "ReadTimeout",
            "WriteTimeout", "PoolTimeout") or _errno(chain, errno_.ETIMEDOUT):
        phase = _phase(exc)
        if phase == "connect":
            if _has(chain, "SSLWantReadError", "SSLWantWriteError") or (handshake and handshake.server_hello):
                return "timeout", ("the TCP connection was accepted but the TLS handshake did not complete within the "
                                   "connect timeout")
            return "timeout", "no connection within the connect timeout (the host does not answer; a firewall?)"
        if phase == "read":
            return "timeout", "no answer within the read timeout"
        if phase == "write":
            return "timeout", "the request could not be sent within the write timeout"
        if phase == "pool":
            return "timeout", "no free connection in the client's pool within the timeout"
        return "timeout", "the request timed out"

    # -- DNS
    if any(isinstance(e, socket.gaierror) for e in chain) or any(
            "Name or service not known" in str(e) or "nodename nor servname" in str(e)
            or "getaddrinfo failed" in str(e) or "No address associated with hostname" in str(e)
            or "Temporary failure in name resolution" in str(e) for e in chain):
        return "dns", "the host name could not be resolved (DNS)"

    # -- our verification of the server's certificate
    verify = _verify_error(chain)
    if verify is not None:
        code, message = verify
        why = _VERIFY_REASONS.get(code or -1) or message or "verification failed"
        return "server_certificate_invalid", f"the server's certificate failed verification: {why}"

    # -- alerts from the server about the client certificate
    if alert == "certificate_required":
        return "client_certificate_required", _required_text(client_certificate, "TLS alert certificate_required")
    if alert in _CERT_ALERTS:
        if sent is False and alert in ("bad_certificate", "certificate_unknown", "access_denied"):
            return "client_certificate_required", _required_text(
                client_certificate, f"no certificate was presented and the server answered with alert {alert}")
        if sent is None and alert in ("bad_certificate", "certificate_unknown"):
            return "client_certificate_refused", (
                f"the server refused the client certificate: {_CERT_ALERTS[alert]}; a server also sends this when "
                "it demands a certificate that was not presented")
        return "client_certificate_refused", f"the server refused our client certificate: {_CERT_ALERTS[alert]}"
    if alert == "handshake_failure":
        if handshake is not None and handshake.certificate_request:
            if handshake.certificate_sent:
                return "client_certificate_refused", (
                    "the server refused our client certificate: it answered the certificate we presented after its "
                    "CertificateRequest with alert handshake_failure")
            return "client_certificate_required", _required_text(
                client_certificate, "alert handshake_failure after the server's CertificateRequest, "
                "which was answered without a certificate")
        if handshake is not None and not handshake.server_hello:
            return "protocol_mismatch", (
                f"no common cipher suite or parameters: the server answered our ClientHello with alert "
                f"handshake_failure (we offered {OFFERED})")
        if client_certificate:
            return "handshake_failure", (
                "the server aborted the TLS handshake with alert handshake_failure: it refused our client "
                f"certificate, or it shares no cipher suite with us (we offered {OFFERED}); not traced, so not "
                "told apart")
        note = f" ({FRONTCHANNEL_NOTE})" if client_certificate is False else ""
        return "handshake_failure", (
            "the server aborted the TLS handshake with alert handshake_failure: with TLS 1.2 this is what a server "
            f"sends when it demands a client certificate that was not presented{note}, or when it shares no cipher "
            f"suite with us (we offered {OFFERED}); not traced, so not told apart")

    # -- protocol version / cipher
    if alert in _PROTOCOL_ALERTS or (reason in _PROTOCOL_REASONS):
        why = (alert and f"alert {alert}") or reason
        if reason and "CIPHER" in reason:
            return "protocol_mismatch", f"no common cipher suite ({why}); we offered {OFFERED}"
        return "protocol_mismatch", (f"no common protocol version ({why}): we offered TLS 1.2 and 1.3 (TLS 1.2 is "
                                     "our minimum) and the server accepts neither")
    if reason in _NOT_TLS_REASONS:
        return "not_tls", ("the server did not answer in TLS (OpenSSL: wrong version number): is the port plain "
                           "HTTP, or the URL's scheme or port wrong?")
    if alert:
        return "other", f"the server aborted the TLS connection with alert {alert}"

    # -- no alert: the peer went away
    if _has(chain, "ConnectionRefusedError") or _errno(chain, errno_.ECONNREFUSED) or any(
            "Connection refused" in str(e) for e in chain):
        return "connection_refused", ("the connection was refused: nothing listens on this port (or a firewall "
                                      "rejects it)")
    if _has(chain, "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError") or _errno(
            chain, errno_.ECONNRESET, errno_.ECONNABORTED, errno_.EPIPE):
        return _hangup("connection_reset", "reset the connection", exc, client_certificate, handshake)
    phase = _phase(exc)
    if _eof(chain) and phase in ("connect", "unknown"):
        return _hangup("connection_reset", "closed the connection during the TLS handshake", exc,
                       client_certificate, handshake)
    if _has(chain, "RemoteProtocolError") and any("without sending a response" in str(e) or "disconnected" in str(e)
                                                  for e in chain):
        return _hangup("connection_closed", "closed the connection without sending an HTTP response", exc,
                       client_certificate, handshake)
    if phase == "read" and (_eof(chain) or _has(chain, "BrokenResourceError", "ClosedResourceError")):
        return _hangup("connection_closed", "closed the connection while the response was read", exc,
                       client_certificate, handshake)
    if _has(chain, "UnsupportedProtocol", "InvalidURL", "LocalProtocolError"):
        return "other", "the request could not be made (URL or protocol)"
    return "other", "the request failed"


def _required_text(client_certificate: bool | None, how: str) -> str:
    text = f"the server demanded a client certificate ({how})"
    if client_certificate is False:
        return f"{text}; {FRONTCHANNEL_NOTE}, so this endpoint cannot be used from the frontchannel as it is"
    if client_certificate:
        return f"{text}, but none was presented although one is configured"
    return text


def _hangup(code: str, what: str, exc: BaseException, client_certificate: bool | None,
            handshake: Handshake | None) -> tuple[str, str]:
    """A reset or close without an alert (``what``: e.g. "reset the connection"); a handshake trace
    may say why."""
    inferred = _inferred_from_trace(handshake)
    if inferred == "client_certificate_required":
        return inferred, _required_text(client_certificate, (
            f"inferred, no TLS alert arrived: it sent a CertificateRequest, got no certificate and {what}"))
    if inferred == "client_certificate_refused":
        return inferred, ("the server probably refused our client certificate (inferred, no TLS alert arrived: "
                          f"it sent a CertificateRequest, got our certificate and {what})")
    text = f"the server {what}"
    if handshake is not None and not handshake.server_hello and _phase(exc) == "connect":
        return code, (f"{text} right after our ClientHello: it may support none of what we offered ({OFFERED}), "
                      "or not speak TLS on this port")
    if handshake is None and _phase(exc) in ("read", "unknown"):
        hint = ("; under TLS 1.3 a server that demands a client certificate it did not get ends the connection "
                "after the handshake like this when its alert is lost")
        if client_certificate is False:
            hint += f" ({FRONTCHANNEL_NOTE})"
        return code, text + hint
    return code, text


def _host_port(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    except ValueError:
        return url.split("?")[0]
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _short(e: BaseException, limit: int = 160) -> str:
    text = str(e).replace("\n", " ")
    if (isinstance(e, OSError) and not isinstance(e, ssl.SSLError) and getattr(e, "strerror", None)
            and e.errno is not None and "[Errno" not in text):
        text = f"[Errno {e.errno}] {e.strerror}"
    if isinstance(e, ssl.SSLError) and text.startswith("[Errno ") and "] " in text:
        text = text.split("] ", 1)[1]
    if " (_ssl.c:" in text:
        text = text.split(" (_ssl.c:", 1)[0]
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(e).__name__}: {text}" if text else f"{type(e).__name__}('')"


_NOISE = (ssl.SSLWantReadError, ssl.SSLWantWriteError, IndexError, KeyError, StopIteration)


def original(exc: BaseException) -> str:
    """The exception in short: the outer type, and the most telling one underneath when it differs
    (``ConnectError('') <- SSLEOFError: EOF occurred in violation of protocol``)."""
    outer = _short(exc)
    candidates = [e for e in _chain(exc)[1:]
                  if str(e) and not isinstance(e, _NOISE) and type(e).__name__ != "CancelledError"
                  and not type(e).__module__.split(".")[0] in ("httpx", "httpcore", "anyio")]
    if not candidates:
        return outer
    inner_exc = (next((e for e in candidates if isinstance(e, ssl.SSLError)), None)
                 or next((e for e in candidates if isinstance(e, OSError) and e.errno is not None), None)
                 or candidates[0])
    inner = _short(inner_exc)
    if inner.split(": ", 1)[-1] in outer:
        return outer
    return f"{outer} <- {inner}"


def explain(exc: BaseException, url: str, client_certificate: bool, *, handshake: Handshake | None = None) -> str:
    """One sentence: what went wrong at which ``host:port``, and the original exception in short.

    ``client_certificate``: whether the request was made with a client certificate (False on the
    frontchannel); ``handshake``: the :func:`last_handshake` record, when traced."""
    code, detail = _analyse(exc, client_certificate, handshake)
    trace = f"; handshake: {handshake.summary()}" if handshake is not None and code != "dns" else ""
    return f"{_host_port(url)}: {detail} [{code}; {original(exc)}{trace}]"
