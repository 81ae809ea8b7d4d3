"""Synthetic help-desk data for the benchmarks: the queries they time and a generator of short articles.

Deterministic (a fixed seed), so that a reused work folder re-indexes nothing and two runs time the same text."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

STARTER_TEAMS = Path(__file__).resolve().parent.parent / "articles" / "teams.yaml"


# --- Queries ------------------------------------------------------------------------------------------

BRIEF_QUERIES = [
    "my vpn keeps dropping every few minutes when I'm on hotel wifi",
    "I forgot my password and now my account is locked",
    "the printer on my floor says it is offline",
    "my badge doesn't open the office door anymore",
    "how do I get reimbursed for a taxi I paid myself",
    "I need to take a few days off next month, how do I ask",
]

PARAPHRASES = [
    # IT
    "vpn disconnects all the time at the airport",
    "globalprotect won't connect from home",
    "locked out of my account after too many login attempts",
    "how do I reset my windows password",
    "mfa push notification never arrives on my phone",
    "I got a new phone and need to move my authenticator",
    "laptop is super slow and the fan is loud",
    "my laptop won't turn on at all",
    "outlook says my mailbox is full and I can't send email",
    "can't access the shared team mailbox calendar",
    "I need admin rights to install software",
    "how do I request a new software licence",
    "printer has a paper jam and says toner low",
    "second monitor not detected through the docking station",
    "I think I received a phishing email, what should I do",
    "office wifi asks for a certificate and won't connect",
    "how can a visitor get on the guest wifi",
    # HR
    "where can I download my payslip",
    "my payslip shows the wrong salary this month",
    "how do I report that I'm sick today",
    "how much parental leave can I take",
    "I need a letter confirming my employment for the bank",
    "how do I enrol in the health insurance plan",
    "where do I find my annual tax statement",
    "what should I bring on my first day",
    "can I work from home three days a week",
    "I changed banks, how do I update my account for salary",
    # Facilities
    "I lost my access card",
    "how do I book a desk for tomorrow",
    "the meeting room screen doesn't work",
    "it is freezing in the office, heating is off",
    "my office chair is broken",
    "how do I get a parking permit",
    "where can I get a locker",
    "a visitor is coming tomorrow, how do I register them",
    # Finance
    "my expense report was rejected",
    "I lost my corporate credit card",
    "how much is the daily allowance on business trips",
    "I paid a hotel in dollars, how do I claim it",
    "what approvals does a purchase order need",
    "our supplier says their invoice was paid late",
    "how do I book a flight for a business trip",
]

NONSENSE = [
    "purple elephants dancing on the moon",
    "asdf qwerty zxcv",
    "banana",
    "what is the airspeed velocity of an unladen swallow",
    "recipe for lasagna with extra cheese",
    "xk7 zzq vvv 0042",
]

QUERIES = BRIEF_QUERIES + PARAPHRASES + NONSENSE


# --- Synthetic knowledge base ------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    team: str
    subjects: list[str]
    systems: list[str]
    symptoms: list[str]
    contexts: list[str]
    causes: list[str]
    steps: list[str]
    evidence: list[str]


DOMAINS = [
    Domain(
        team="IT",
        subjects=[
            "VPN",
            "Outlook",
            "Teams",
            "OneDrive",
            "SharePoint",
            "the laptop",
            "the docking station",
            "the floor printer",
            "office Wi-Fi",
            "MFA sign-in",
            "the shared mailbox",
            "BitLocker",
            "the browser",
            "Zoom",
            "the company phone",
            "the external monitor",
        ],
        systems=["GlobalProtect", "Okta", "Intune", "Windows 11", "macOS", "Company Portal", "Jira", "SAP GUI"],
        symptoms=[
            "disconnects every few minutes",
            "keeps asking for the password",
            "is extremely slow",
            "crashes right after start-up",
            "shows error {code}",
            "cannot connect at all",
            "stops syncing",
            "freezes during video calls",
            "says it is offline",
            "locks the account after one attempt",
        ],
        contexts=[
            "on hotel Wi-Fi",
            "after the latest update",
            "when working from home",
            "on the 4th floor",
            "after a password change",
            "when the laptop wakes from sleep",
            "on the guest network",
            "since the new phone was set up",
        ],
        causes=[
            "The cached credentials expired and the client keeps retrying the old ones.",
            "A pending update left the client half installed.",
            "The device certificate is out of date, so the network refuses the connection.",
            "A captive portal blocks traffic until you sign in again.",
            "The local cache is corrupt after an interrupted sync.",
            "Power saving turns the network adapter off while the lid is closed.",
            "The driver does not match the current Windows build.",
            "Too many failed sign-ins triggered the lockout policy.",
        ],
        steps=[
            "Restart {system} and sign in again.",
            "Install pending updates from Company Portal and reboot.",
            "Clear the local cache in {system} settings.",
            "Unlock your account at the self-service password page.",
            "Forget the network and reconnect with your company credentials.",
            "Unplug the dock for ten seconds and plug it back in.",
            "Re-register your phone in the authenticator app.",
            "Switch the connection mode to SSL in the troubleshooting tab.",
            "Run the network troubleshooter and note the error shown.",
        ],
        evidence=["the error code", "the time it happened", "your laptop's asset tag", "a screenshot"],
    ),
    Domain(
        team="HR",
        subjects=[
            "the annual leave request",
            "the payslip",
            "sick leave reporting",
            "the parental leave form",
            "benefits enrolment",
            "the pension contribution",
            "the employment certificate",
            "the overtime claim",
            "the training budget request",
            "the contract change",
            "the home office allowance",
            "the probation review",
        ],
        systems=["Workday", "the HR portal", "SuccessFactors", "Personio", "the payroll portal"],
        symptoms=[
            "is stuck waiting for approval",
            "shows the wrong amount",
            "was rejected without a reason",
            "is missing from {system}",
            "cannot be submitted",
            "shows the wrong number of days",
            "still shows the old manager",
            "was approved but not paid",
        ],
        contexts=[
            "this month",
            "after moving to a new team",
            "for part-time staff",
            "since the start of the year",
            "after returning from leave",
            "for the Warsaw office",
        ],
        causes=[
            "The approver changed and the request is still assigned to the previous manager.",
            "Payroll closes on the 20th, so later changes land in next month's run.",
            "The contract data in {system} was not updated after the change.",
            "A required document was not attached to the request.",
            "The leave balance is recalculated only overnight.",
            "Your cost centre is missing from the employee record.",
        ],
        steps=[
            "Open {system} and check the request history.",
            "Ask your manager to approve the pending item.",
            "Attach the signed form and submit again.",
            "Wait for the overnight recalculation and check the balance tomorrow.",
            "Download the latest statement from {system}.",
            "Update your personal details under My Profile.",
            "Book a slot with your HR partner for a review.",
        ],
        evidence=["your employee number", "the request reference", "the pay period", "the dates concerned"],
    ),
    Domain(
        team="Facilities",
        subjects=[
            "the access badge",
            "the office door",
            "the meeting room display",
            "desk booking",
            "the parking barrier",
            "the locker",
            "the heating",
            "the air conditioning",
            "the lift",
            "the kitchen coffee machine",
            "the window blinds",
            "the ceiling lights",
            "the desk chair",
            "visitor registration",
        ],
        systems=["DeskBook", "the building app", "the reception kiosk", "the access control system"],
        symptoms=[
            "does not work anymore",
            "is stuck",
            "beeps red and stays locked",
            "does not show today's bookings",
            "is far too cold",
            "makes a loud noise",
            "is out of order",
            "rejects my booking",
        ],
        contexts=[
            "in Building A",
            "on the 2nd floor",
            "in the Lisbon office",
            "in the Paris office",
            "in the Warsaw office",
            "at the main entrance",
            "in the basement garage",
            "after 18:00",
        ],
        causes=[
            "Badge permissions expire when a contract is extended and must be renewed.",
            "The controller lost its network link and works offline.",
            "The booking was made for another site in {system}.",
            "The thermostat schedule was reset after maintenance.",
            "The device is waiting for a scheduled repair.",
            "Weekend mode is still active in the building management system.",
        ],
        steps=[
            "Check your booking in {system}.",
            "Hold the badge flat against the reader for two seconds.",
            "Ask reception for a temporary badge.",
            "Report the fault in {system} with the room number.",
            "Use the desk or room listed as an alternative.",
            "Call the security desk if you are locked out after hours.",
            "Wait ten minutes after the reset before trying again.",
        ],
        evidence=["the room or door number", "your badge number", "a photo of the fault", "the time it happened"],
    ),
    Domain(
        team="Finance",
        subjects=[
            "the expense report",
            "the taxi receipt",
            "the corporate card",
            "the per diem claim",
            "the purchase order",
            "the supplier invoice",
            "the mileage claim",
            "the hotel invoice",
            "the flight booking",
            "the foreign currency expense",
            "the reimbursement",
        ],
        systems=["Concur", "Coupa", "SAP", "Navan", "the expense app"],
        symptoms=[
            "was rejected",
            "is still not reimbursed",
            "shows the wrong currency",
            "is blocked waiting for approval",
            "was paid late",
            "was declined",
            "cannot be submitted in {system}",
            "is missing a cost centre",
        ],
        contexts=[
            "after a business trip",
            "for a client dinner",
            "paid with my own money",
            "in US dollars",
            "over the approval threshold",
            "at month end",
        ],
        causes=[
            "The receipt is missing or unreadable.",
            "The amount is above your approval limit and needs a second approver.",
            "The exchange rate was taken from the card statement instead of the receipt date.",
            "The cost centre on the claim is closed.",
            "Invoices are paid in the weekly run on Thursdays only.",
            "The card was blocked after a suspicious transaction.",
        ],
        steps=[
            "Photograph the receipt and attach it in {system}.",
            "Choose the correct cost centre and resubmit.",
            "Ask your manager to approve the claim.",
            "Freeze the card in {system} and order a replacement.",
            "Enter the amount in the original currency with the receipt date.",
            "Wait for the next payment run and check the status.",
            "Split the purchase into a purchase order first.",
        ],
        evidence=["the claim number", "the receipt", "the invoice number", "the card's last four digits"],
    ),
]


def _fill(template: str, rng: random.Random, domain: Domain) -> str:
    return template.format(system=rng.choice(domain.systems), code=f"0x{rng.randrange(0x1000, 0xFFFF):04X}")


def synthetic_article(number: int, rng: random.Random) -> tuple[str, str]:
    """(file name, Markdown text) of one short help-desk article, ~60-100 words, 3 sections."""
    domain = DOMAINS[number % len(DOMAINS)]
    subject = rng.choice(domain.subjects)
    symptom = _fill(rng.choice(domain.symptoms), rng, domain)
    context = rng.choice(domain.contexts)
    other_symptom = _fill(rng.choice([s for s in domain.symptoms if s != symptom]), rng, domain)
    causes = rng.sample(domain.causes, 2)
    steps = [_fill(step, rng, domain) for step in rng.sample(domain.steps, 3)]
    system = rng.choice(domain.systems)
    title = f"{subject[0].upper()}{subject[1:]} {symptom} {context}"
    article_id = f"{domain.team.lower()}-{number:05d}"
    lines = [
        "---",
        f"id: {article_id}",
        f"title: {json.dumps(title)}",
        f"team: {domain.team}",
        "status: published",
        "language: en",
        "---",
        "",
        "## Symptoms",
        f"- {subject[0].upper()}{subject[1:]} {symptom} {context}.",
        f"- Sometimes it also {other_symptom} in {system}.",
        "",
        "## Cause",
        " ".join(_fill(c, rng, domain) for c in causes),
        "",
        "## Resolution",
        *(f"{i}. {step}" for i, step in enumerate(steps, start=1)),
        f"{len(steps) + 1}. If it still fails, open a ticket with {domain.team} and include "
        f"{rng.choice(domain.evidence)}.",
        "",
    ]
    return f"{article_id}.md", "\n".join(lines)


def generate_synthetic(folder: Path, count: int, seed: int = 20261126) -> None:
    """Write `count` articles plus the starter teams.yaml; deterministic, so a reused folder re-indexes nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    wanted: set[str] = set()
    for number in range(count):
        name, text = synthetic_article(number, rng)
        wanted.add(name)
        path = folder / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    shutil.copy(STARTER_TEAMS, folder / "teams.yaml")
