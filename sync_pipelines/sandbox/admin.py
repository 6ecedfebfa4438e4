"""The sandbox's admin endpoints (not part of Marketo or Salesforce): what each takes and answers.

Listed once here for `python -m sync_pipelines.sandbox --help`, its start-up banner and the sandbox
README; sync_pipelines_tests/sandbox/test_admin_endpoints.py checks that every /sandbox/ route of both
emulators is listed. Admin calls need no token and count against no limit. A bad body answers 400
`{"error": ...}`, an unknown lead 404.
"""

from __future__ import annotations

from typing import NamedTuple


class AdminEndpoint(NamedTuple):
    service: str
    method: str
    path: str
    body: str
    answer: str


_FAULT_PLAN = ('{"rates": {"<kind>": 0.1, ...}, "seed": 1, "slow_seconds": 0.5, "max_faults": 20} '
               '(an empty body or {"rates": {}} clears the plan; kinds: sandbox/faults.py)')

ADMIN_ENDPOINTS = (
    AdminEndpoint("marketo", "POST", "/sandbox/leads",
                  '{"firstName": "Ada", "email": "ada@example.com", "sfdcLeadOwnerId": "005...", ...} '
                  "(any writable lead field: firstName, lastName, email, phone, company, title, "
                  "linkedInProfileURL, leadSource, sfdcType, sfdcLeadId, sfdcContactId, sfdcAccountId, "
                  "sfdcLeadOwnerId, unsubscribed, emailInvalid, leadScore, city)",
                  '201 {"id": <new lead id>}; records a New Lead activity'),
    AdminEndpoint("marketo", "PATCH", "/sandbox/leads/{id}", '{"<field>": <value>, ...} (writable fields as above)',
                  '{"ok": true}; one Data Value Change activity per changed field'),
    AdminEndpoint("marketo", "DELETE", "/sandbox/leads/{id}", "none",
                  '{"ok": true}; the lead shows in deletedleads.json'),
    AdminEndpoint("marketo", "POST", "/sandbox/leads/merge", '{"winnerId": 1001, "loserIds": [1002, 1003]}',
                  '{"ok": true}; losers disappear, the winner gets a Merge Leads activity'),
    AdminEndpoint("marketo", "POST", "/sandbox/tokens/expire", "none",
                  '{"ok": true}; every issued token answers 602 from now on'),
    AdminEndpoint("marketo", "POST", "/sandbox/errors", '{"code": "606", "count": 1, "pathPrefix": "/rest/v1/leads"}',
                  '{"ok": true}; the next `count` API calls (under pathPrefix) answer that error ("5xx": HTTP 503)'),
    AdminEndpoint("marketo", "GET", "/sandbox/stats", "none",
                  '{"api_calls": N, "calls_by_path": {...}, "leads": N}'),
    AdminEndpoint("marketo", "POST", "/sandbox/faults", _FAULT_PLAN, '{"ok": true}; random faults from now on'),
    AdminEndpoint("marketo", "GET", "/sandbox/faults", "none", '{"rates": {...}, "injected": {...}}'),
    AdminEndpoint("salesforce", "POST", "/sandbox/faults", _FAULT_PLAN, '{"ok": true}; random faults from now on'),
    AdminEndpoint("salesforce", "GET", "/sandbox/faults", "none", '{"rates": {...}, "injected": {...}}'),
)


def admin_help() -> str:
    """The endpoints as plain text: one block per endpoint (for --help and the banner)."""
    lines = ["admin endpoints (no token; JSON bodies):"]
    for endpoint in ADMIN_ENDPOINTS:
        lines.append(f"  {endpoint.service:<10} {endpoint.method} {endpoint.path}")
        lines.append(f"      body:   {endpoint.body}")
        lines.append(f"      answer: {endpoint.answer}")
    return "\n".join(lines)
