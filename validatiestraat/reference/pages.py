"""The HTML pages of the reference DVA's frontchannel.

Plain HTML forms that a simple form-following client (stdlib ``html.parser``) can drive: the
flow is carried by hidden inputs, buttons have name/value pairs. Two login variants exist:

1. username/password form (fields ``username``, ``password``, button "Inloggen");
2. a DigiD look-alike: the landing page has a *link* "Inloggen met DigiD", the login form has
   fields ``bsn`` and ``wachtwoord``, the flow id travels in ``sessie`` and the button is an
   ``<input type="submit" value="Inloggen">``.

The consent page is the same for both: buttons ``decision=approve`` and ``decision=deny``.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
header{border-bottom:3px solid #154273;margin-bottom:1rem}
.digid header{border-color:#e17000}
label{display:block;margin:.5rem 0}
input[type=text],input[type=password]{display:block;width:20rem;padding:.3rem}
button,input[type=submit]{margin:.5rem .5rem .5rem 0;padding:.4rem 1rem}
.error{color:#a00}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
small{color:#555}
"""


def page(title: str, body: str, *, aanbieder_display: str, css_class: str = "") -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)} - {escape(aanbieder_display)}</title><style>{_STYLE}</style></head>"
        f"<body class=\"{escape(css_class)}\"><header><h1>{escape(aanbieder_display)}</h1></header>"
        f"<main>\n{body}\n</main><footer><small>validatiestraat reference DVA - test environment, synthetic data only"
        "</small></footer></body></html>\n"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'


def error_page(message: str, *, aanbieder_display: str) -> str:
    body = (f"<h2>Er is iets misgegaan</h2><p class=\"error\" id=\"error\">{escape(message)}</p>"
            "<p>U wordt niet teruggestuurd naar de applicatie die dit verzoek deed.</p>")
    return page("Fout", body, aanbieder_display=aanbieder_display)


def landing_page(flow_id: str, *, variant: int, aanbieder: str, aanbieder_display: str, client_name: str) -> str:
    intro = (f"<h2>Welkom bij {escape(aanbieder_display)}</h2>"
             f"<p id=\"aanbieder\" data-aanbieder=\"{escape(aanbieder)}\">U bent hier via "
             f"<strong>{escape(client_name)}</strong>. Log in om toestemming te geven voor het ophalen van uw gegevens "
             f"bij {escape(aanbieder_display)}.</p>")
    if variant == 2:
        link = f"/digid/inloggen?sessie={quote(flow_id)}"
        body = intro + f'<p><a href="{escape(link)}" id="digid-link">Inloggen met DigiD</a></p>'
        return page("Welkom", body, aanbieder_display=aanbieder_display, css_class="digid")
    body = intro + (
        '<form method="post" action="/oauth/login-page">'
        + _hidden("flow", flow_id)
        + '<button type="submit">Doorgaan naar inloggen</button></form>'
    )
    return page("Welkom", body, aanbieder_display=aanbieder_display)


def login_page(flow_id: str, *, aanbieder_display: str, error: str | None = None,
               action: str = "/oauth/login", hidden_name: str = "flow", title: str = "Inloggen") -> str:
    err = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    body = (
        f"<h2>{escape(title)}</h2>{err}"
        f'<form method="post" action="{escape(action)}">'
        + _hidden(hidden_name, flow_id)
        + '<label>Gebruikersnaam <input type="text" name="username" autocomplete="username"></label>'
        '<label>Wachtwoord <input type="password" name="password" autocomplete="current-password"></label>'
        '<button type="submit" name="login" value="1">Inloggen</button></form>'
        "<p><small>Testpersonen van de validatiestraat; geen echte gegevens.</small></p>"
    )
    return page(title, body, aanbieder_display=aanbieder_display)


def digid_login_page(flow_id: str, *, aanbieder_display: str, error: str | None = None) -> str:
    err = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    body = (
        "<h2>DigiD (nabootsing voor tests)</h2>"
        "<p>Log in met het BSN en wachtwoord van een testpersoon.</p>" + err
        + '<form method="post" action="/digid/inloggen">'
        + _hidden("sessie", flow_id)
        + '<label>Burgerservicenummer <input type="text" name="bsn" inputmode="numeric"></label>'
        '<label>Wachtwoord <input type="password" name="wachtwoord"></label>'
        '<input type="submit" value="Inloggen"></form>'
    )
    return page("Inloggen met DigiD", body, aanbieder_display=aanbieder_display, css_class="digid")


def consent_page(flow_id: str, *, aanbieder_display: str, person_display: str, client_name: str,
                 services: list[str]) -> str:
    items = "".join(f"<li class=\"gegevensdienst\">{escape(s)}</li>" for s in services)
    body = (
        "<h2>Toestemming</h2>"
        f"<p>Ingelogd als <strong id=\"person\">{escape(person_display)}</strong>.</p>"
        f"<p id=\"consent-question\">Geeft u <strong id=\"client-name\">{escape(client_name)}</strong> toestemming om "
        f"de volgende gegevens op te halen bij <strong id=\"aanbieder-name\">{escape(aanbieder_display)}</strong>?</p>"
        f"<ul>{items}</ul>"
        "<p>Deze toestemming blijft geldig tot u haar intrekt (langdurige toestemming).</p>"
        '<form method="post" action="/oauth/consent">'
        + _hidden("flow", flow_id)
        + '<button type="submit" name="decision" value="approve">Ja, ik geef toestemming</button>'
        '<button type="submit" name="decision" value="deny">Nee, ik geef geen toestemming</button></form>'
    )
    return page("Toestemming", body, aanbieder_display=aanbieder_display)


def consents_login_page(*, aanbieder_display: str, error: str | None = None) -> str:
    return login_page("", aanbieder_display=aanbieder_display, error=error, action="/oauth/consents/login",
                      hidden_name="purpose", title="Inloggen - toestemmingen beheren")


def consents_page(session_id: str, rows: list[tuple[str, str, str, str]], *, aanbieder_display: str,
                  person_display: str, message: str | None = None) -> str:
    """rows: (client_id, client name, services text, given since)."""
    msg = f'<p id="message">{escape(message)}</p>' if message else ""
    if rows:
        trs = "".join(
            f"<tr><td>{escape(name)}<br><small>{escape(cid)}</small></td><td>{escape(services)}</td>"
            f"<td>{escape(since)}</td><td><form method=\"post\" action=\"/oauth/consents/revoke\">"
            + _hidden("session", session_id) + _hidden("client_id", cid)
            + f'<button type="submit" name="revoke" value="{escape(cid)}">Intrekken</button></form></td></tr>'
            for cid, name, services, since in rows
        )
        table = ("<table id=\"consents\"><tr><th>Applicatie</th><th>Gegevens</th><th>Sinds</th><th></th></tr>"
                 f"{trs}</table>")
    else:
        table = '<p id="no-consents">U heeft geen lopende toestemmingen.</p>'
    body = (f"<h2>Toestemmingen beheren</h2><p>Ingelogd als <strong>{escape(person_display)}</strong>.</p>"
            f"{msg}{table}")
    return page("Toestemmingen", body, aanbieder_display=aanbieder_display)
