"""Web mode in a real browser: the exact Intercom(...) calls for each analytics call and setting."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from intercom_destination.mapping.track import event_metadata, event_name
from intercom_destination.mapping.values import custom_attributes

from tests.web.conftest import Site

LOAD = "IntercomDestination.load({appId: 'abc123'})"


def test_loads_the_messenger_once_and_boots_it(site: Site) -> None:
    site.run(f"window.d = {LOAD}; window.d.load(); IntercomDestination.load({{appId: 'abc123'}})")
    assert site.calls(wait_for=1)[0] == ["boot", {"app_id": "abc123", "api_base": "https://api-iam.intercom.io"}]
    assert site.widget_requests == ["https://widget.intercom.io/widget/abc123"]
    assert site.blocked == []


def test_a_custom_activator_and_a_regional_api_base(site: Site) -> None:
    site.run("IntercomDestination.load({appId: 'abc123', activator: '#my-launcher', apiBase: 'EU'})")
    assert site.calls(wait_for=1)[0] == [
        "boot",
        {
            "app_id": "abc123",
            "api_base": "https://api-iam.eu.intercom.io",
            "custom_launcher_selector": "#my-launcher",
            "hide_default_launcher": True,
        },
    ]


def test_the_default_activator_keeps_intercoms_launcher(site: Site) -> None:
    site.run("IntercomDestination.load({appId: 'abc123', activator: '#IntercomDefaultWidget', apiBase: 'AU'})")
    assert site.calls(wait_for=1)[0] == ["boot", {"app_id": "abc123", "api_base": "https://api-iam.au.intercom.io"}]


def test_api_base_takes_a_region_or_an_https_url_only(site: Site) -> None:
    outcomes = site.run("""() => ['eu', 'https://proxy.example.com/', 'http://api-iam.intercom.io', 'evil.com',
        'javascript:alert(1)'].map((apiBase) => {
        try { return IntercomDestination.load({appId: 'abc123', apiBase}).apiBase; }
        catch (error) { return 'refused: ' + error.message; }
    })""")
    assert outcomes[:2] == ["https://api-iam.eu.intercom.io", "https://proxy.example.com"]
    assert all(outcome.startswith("refused: IntercomDestination: apiBase must be") for outcome in outcomes[2:])


def test_calls_made_before_the_messenger_loaded_are_kept_in_order(site: Site) -> None:
    queued = site.run(f"""() => {{
        const d = {LOAD};
        d.identify('u1', {{email: 'early@example.com'}});
        d.track('Clicked Early', {{}});
        return window.__intercomLoaded ? -1 : window.Intercom.q.length;
    }}""")
    assert queued == 3  # boot, update, trackEvent wait in Intercom's own queue
    assert [call[0] for call in site.calls(wait_for=3)] == ["boot", "update", "trackEvent"]


def test_identify_maps_traits_and_identity_verification(site: Site) -> None:
    site.run(f"""{LOAD}.identify('u1', {{
        email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', phone: '+44 20 7946 0000',
        createdAt: '2026-01-01T00:00:00Z', avatar: 'https://img.example/ada.png', language_override: 'fr',
        unsubscribed_from_emails: true, plan: 'pro', logins: 3, beta: false,
        address: {{city: 'London'}}, tags: ['a', 'b'], 'odd.key': 'x',
        company: {{id: 'acme', name: 'Acme', employees: 42}}
    }}, {{integrations: {{Intercom: {{user_hash: 'hash-1'}}}}}})""")
    assert site.calls(wait_for=2)[1] == [
        "update",
        {
            "user_id": "u1",
            "email": "ada@example.com",
            "name": "Ada Lovelace",
            "phone": "+44 20 7946 0000",
            "created_at": 1767225600,
            "avatar": {"type": "avatar", "image_url": "https://img.example/ada.png"},
            "language_override": "fr",
            "unsubscribed_from_emails": True,
            "user_hash": "hash-1",
            "company": {"company_id": "acme", "name": "Acme", "size": 42},
            "plan": "pro",
            "logins": 3,
            "beta": False,
            "odd_key": "x",
        },
    ]


def test_identity_verification_by_jwt_in_either_spelling(site: Site) -> None:
    site.run(f"""const d = {LOAD};
        d.identify('u1', {{}}, {{integrations: {{Intercom: {{intercom_user_jwt: 'jwt-1'}}}}}});
        d.identify('u1', {{}}, {{integrations: {{intercom: {{intercomUserJwt: 'jwt-2', userHash: 'h-2'}}}}}});""")
    calls = site.calls(wait_for=3)
    assert calls[1] == ["update", {"user_id": "u1", "intercom_user_jwt": "jwt-1"}]
    assert calls[2] == ["update", {"user_id": "u1", "user_hash": "h-2", "intercom_user_jwt": "jwt-2"}]


def test_page_refreshes_the_messenger(site: Site) -> None:
    """analytics.js's page([category], [name], [properties], [options]): a name is never taken for a user id."""
    site.run(f"""const d = {LOAD};
        d.page('Pricing');
        d.page('Docs', 'Pricing', {{path: '/pricing'}}, {{integrations: {{Intercom: false}}}});
        d.page('Docs', 'Setup', null, {{integrations: {{All: false}}}});
        d.page({{path: '/'}}, {{integrations: {{Intercom: true}}}});""")
    calls = site.calls(wait_for=3)
    assert [call[0] for call in calls] == ["boot", "update", "update"]
    for _, fields in calls[1:]:
        assert list(fields) == ["last_request_at"]
        assert abs(fields["last_request_at"] - time.time()) < 60
    assert site.warnings == []


def test_group_identifies_the_company(site: Site) -> None:
    site.run(f"""{LOAD}.group('acme', {{
        name: 'Acme', plan: 'enterprise', employees: '250', website: 'https://acme.example', industry: 'Anvils',
        monthly_spend: 99.9, createdAt: 1580601600000, region: 'EMEA', address: {{city: 'Paris'}}
    }})""")
    assert site.calls(wait_for=2)[1] == [
        "update",
        {
            "company": {
                "company_id": "acme",
                "name": "Acme",
                "plan": "enterprise",
                "size": 250,
                "website": "https://acme.example",
                "industry": "Anvils",
                "monthly_spend": 99,
                "created_at": 1580601600,
                "region": "EMEA",
            },
        },
    ]


def test_track_sends_flat_metadata_rich_links_and_a_price(site: Site) -> None:
    site.run("""IntercomDestination.load({appId: 'abc123', richLinkProperties: ['order']}).track('order.completed', {
        revenue: 19.99, currency: 'eur', order: {url: 'https://shop.example/o/1', value: 'Order 1'},
        other: {url: 'https://shop.example', value: 'not configured'}, items: 3, gift: false,
        skus: ['a', 'b'], email: 'not-metadata@example.com', renewal_date: '2027-01-01T00:00:00Z'
    })""")
    assert site.calls(wait_for=2)[1] == [
        "trackEvent",
        "order-completed",
        {
            "price": {"amount": 1999, "currency": "EUR"},
            "order": {"url": "https://shop.example/o/1", "value": "Order 1"},
            "items": 3,
            "gift": False,
            "renewal_date": 1798761600,
        },
    ]


def test_prices_match_cloud_modes_rounding(site: Site) -> None:
    prices = site.run("""[[19.99], [1.005, 'usd'], [0], [1500, 'JPY'], [1.2345, 'KWD'], [-1], ['n/a']]
        .map(args => IntercomDestination.mapping.price(...args) || null)""")
    assert prices == [
        {"amount": 1999, "currency": "USD"},
        {"amount": 101, "currency": "USD"},
        {"amount": 0, "currency": "USD"},
        {"amount": 1500, "currency": "JPY"},
        {"amount": 1235, "currency": "KWD"},
        None,
        None,
    ]


def test_metadata_keeps_at_most_ten_keys(site: Site) -> None:
    site.run(f"{LOAD}.track('Many', Object.fromEntries([...Array(15).keys()].map(i => ['k' + i, i])))")
    assert list(site.calls(wait_for=2)[1][2]) == [f"k{i}" for i in range(10)]


def test_reset_shuts_down_then_boots_anonymously(site: Site) -> None:
    site.run(f"const d = {LOAD}; d.identify('u1', {{}}); d.reset();")
    calls = site.calls(wait_for=4)
    assert [call[0] for call in calls] == ["boot", "update", "shutdown", "boot"]
    assert calls[3] == calls[0]


def test_the_integrations_object_turns_it_off_per_call(site: Site) -> None:
    site.run(f"""const d = {LOAD};
        d.identify('off-1', {{}}, {{integrations: {{Intercom: false}}}});
        d.track('off-2', {{}}, {{integrations: {{All: false}}}});
        d.group('off-3', {{}}, {{integrations: {{INTERCOM: false}}}});
        d.track('on', {{}}, {{integrations: {{All: false, Intercom: true}}}});""")
    time.sleep(0.2)
    assert site.calls(wait_for=2) == [site.calls()[0], ["trackEvent", "on", {}]]


def test_web_mode_answers_to_its_own_name(site: Site) -> None:
    """`intercom-web` switches web mode and wins over `Intercom`; cloud mode's name does not touch it."""
    site.run(f"""const d = {LOAD};
        d.track('web-off', {{}}, {{integrations: {{'intercom-web': false}}}});
        d.track('web-off-too', {{}}, {{integrations: {{'Intercom-Web': false, Intercom: true}}}});
        d.track('web-on', {{}}, {{integrations: {{All: false, 'intercom-web': true}}}});
        d.track('cloud-off', {{}}, {{integrations: {{'Intercom Cloud Mode (Actions)': false}}}});
        d.identify('u1', {{}}, {{integrations: {{'intercom-web': {{user_hash: 'hash-web'}}}}}});""")
    calls = site.calls(wait_for=4)
    assert calls[1:3] == [["trackEvent", "web-on", {}], ["trackEvent", "cloud-off", {}]]
    assert calls[3][0] == "update"
    assert calls[3][1]["user_hash"] == "hash-web"


SIGNATURES: list[tuple[str, list[Any] | None]] = [
    # analytics.js's optional leading arguments, read as it reads them
    ("d.identify({email: 'a@example.com'})", ["update", {"email": "a@example.com"}]),
    ("d.identify(42, {name: 'Forty Two'})", ["update", {"user_id": "42", "name": "Forty Two"}]),
    (
        "d.identify(null, {email: 'b@example.com'}, {integrations: {Intercom: {user_hash: 'h'}}})",
        ["update", {"email": "b@example.com", "user_hash": "h"}],
    ),
    ("d.identify('u1', null, {integrations: {All: true}})", ["update", {"user_id": "u1"}]),
    ("d.track({event: 'Signed Up', properties: {plan: 'pro'}})", ["trackEvent", "Signed Up", {"plan": "pro"}]),
    ("d.track('Clicked', null, {integrations: {Intercom: true}})", ["trackEvent", "Clicked", {}]),
    ("d.group(7, {name: 'Seven'})", ["update", {"company": {"company_id": "7", "name": "Seven"}}]),
    # what does not fit is refused whole, with a console warning, and nothing reaches the Messenger
    ("d.identify('u1', 'Ada')", None),
    ("d.identify(true, {email: 'c@example.com'})", None),
    ("d.identify('u1', ['a', 'b'])", None),
    ("d.identify('u1', {}, 'Intercom')", None),
    ("d.identify('u1', {}, {}, {})", None),
    ("d.track()", None),
    ("d.track('  ')", None),
    ("d.track(['Clicked'])", None),
    ("d.track('Clicked', 'Button')", None),
    ("d.track('Clicked', {}, [])", None),
    ("d.group({name: 'No Id'})", None),
    ("d.group(NaN, {})", None),
    ("d.page(5)", None),
    ("d.page('Docs', 'Pricing', 'Extra')", None),
]


@pytest.mark.parametrize(("call", "expected"), SIGNATURES, ids=[call for call, _ in SIGNATURES])
def test_the_standalone_object_takes_analytics_js_arguments(site: Site, call: str, expected: list[Any] | None) -> None:
    site.run(f"const d = {LOAD}; {call}; d.track('marker')")
    calls = site.calls(wait_for=3 if expected else 2)
    assert calls[-1] == ["trackEvent", "marker", {}]
    if expected is None:
        assert len(calls) == 2
        assert len(site.warnings) == 1
        assert site.warnings[0].startswith(f"IntercomDestination.{call[2:].split('(')[0]}: ")
        assert site.warnings[0].endswith("; nothing was sent")
    else:
        assert calls[1] == expected
        assert site.warnings == []


def test_a_callback_is_called_last_in_every_place_analytics_js_allows(site: Site) -> None:
    called = site.run(f"""() => {{
        const d = {LOAD};
        const seen = [];
        const mark = (name) => () => seen.push(name);
        d.identify('u1', mark('identify'));
        d.identify('u1', {{}}, {{}}, mark('identify-4'));
        d.track('T', mark('track'));
        d.track('T', {{}}, {{}}, mark('track-4'));
        d.group('g', mark('group'));
        d.page(mark('page'));
        d.page('Docs', 'Pricing', {{}}, {{}}, mark('page-5'));
        d.identify('u1', mark('misplaced'), {{}});
        return seen;
    }}""")
    assert called == ["identify", "identify-4", "track", "track-4", "group", "page", "page-5"]
    assert site.warnings == ["IntercomDestination.identify: the callback must be the last argument; nothing was sent"]


def test_the_pure_mappings_ignore_traits_that_are_not_objects(site: Site) -> None:
    """A string or an array as traits is never spread into one attribute per character or item."""
    mapped = site.run("""['Pricing', ['a', 'b'], 42, null].map((traits) => [
        IntercomDestination.mapping.user('u1', traits, {}),
        IntercomDestination.mapping.company('c1', traits),
        IntercomDestination.mapping.metadata(traits, [])])""")
    assert mapped == [[{"user_id": "u1"}, {"company_id": "c1"}, {}]] * 4


def test_appid_is_required(site: Site) -> None:
    error = site.run("() => { try { IntercomDestination.load({}); } catch (e) { return e.message; } }")
    assert error == "IntercomDestination: appId is required"


def test_as_a_plugin_of_the_real_analytics_next(site: Site) -> None:
    """@segment/analytics-next from npm, served locally: its calls reach the Messenger through the plugin."""
    site.page.add_script_tag(url="/analytics-next/index.js")
    site.page.evaluate("""async () => {
        const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
            {writeKey: 'test-write-key', cdnSettings: {integrations: {}}},
            {disableClientPersistence: true});
        await analytics.register(IntercomDestination.plugin({appId: 'abc123', richLinkProperties: ['doc']}));
        await analytics.identify('u1', {email: 'ada@example.com', name: 'Ada'});
        await analytics.track('Read Doc', {doc: {url: 'https://docs.example/a', value: 'A'}, revenue: 5});
        await analytics.group('acme', {name: 'Acme', employees: 12});
        await analytics.page('Docs', 'Pricing');
        await analytics.track('Skipped', {}, {integrations: {Intercom: false}});
        await analytics.reset();
    }""")
    calls = site.calls(wait_for=7)
    assert [call[0] for call in calls] == ["boot", "update", "trackEvent", "update", "update", "shutdown", "boot"]
    assert calls[1] == ["update", {"user_id": "u1", "email": "ada@example.com", "name": "Ada"}]
    assert calls[2] == [
        "trackEvent",
        "Read Doc",
        {"price": {"amount": 500, "currency": "USD"}, "doc": {"url": "https://docs.example/a", "value": "A"}},
    ]
    assert calls[3] == ["update", {"user_id": "u1", "company": {"company_id": "acme", "name": "Acme", "size": 12}}]
    assert calls[4][1]["user_id"] == "u1"
    assert "last_request_at" in calls[4][1]
    assert site.widget_requests == ["https://widget.intercom.io/widget/abc123"]


CASES: list[dict[str, Any]] = [
    {"revenue": 19.99, "currency": "usd", "plan": "pro", "seats": 3, "beta": True},
    {"revenue": 0, "order.id": "o-1", "note": "x" * 300, "link": {"url": "https://e.example", "value": "E"}},
    {"revenue": 1500, "currency": "JPY", "renewal_date": "2027-01-01T00:00:00Z", "empty": "", "none": None},
    {f"k{i}": i for i in range(12)},
]


@pytest.mark.parametrize("properties", CASES)
def test_web_and_cloud_modes_map_the_same_properties_the_same_way(site: Site, properties: dict[str, Any]) -> None:
    """For flat input (where the two modes are specified alike) the browser gives cloud mode's result."""
    browser = site.run(f"IntercomDestination.mapping.metadata({json.dumps(properties)}, ['link'])")
    assert browser == event_metadata(properties)


@pytest.mark.parametrize("name", ["Order Completed", "order.completed", "$purchase", "  padded  ", "Ünïcödé 注文"])
def test_web_and_cloud_modes_name_events_alike(site: Site, name: str) -> None:
    assert site.run(f"IntercomDestination.mapping.eventName({json.dumps(name)})") == event_name(name)


def test_web_and_cloud_modes_send_the_same_custom_traits(site: Site) -> None:
    traits = {"email": "a@example.com", "name": "A", "plan": "pro", "seats": 3, "beta": False, "odd.key": "x"}
    browser = site.run(f"IntercomDestination.mapping.user('u1', {json.dumps(traits)}, {{}})")
    cloud = custom_attributes(traits, frozenset({"email", "name"}))
    assert {key: browser[key] for key in cloud} == cloud
    assert set(browser) - set(cloud) == {"user_id", "email", "name"}
