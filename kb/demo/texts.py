"""What the generated people write: names, ticket subjects per desk, the questions the KB cannot answer yet
(the demo's knowledge gaps), and the replies, notes and resolutions of the conversations."""

from __future__ import annotations

FIRST_NAMES = (
    "ana", "joao", "marta", "pedro", "ines", "rui", "sofia", "tiago", "beatriz", "miguel", "kasia", "piotr",
    "agnieszka", "tomasz", "zofia", "marek", "claire", "julien", "camille", "louis", "emma", "hugo", "lea",
    "nathan", "olivia", "liam", "noah", "mia", "lucas", "eva", "david", "sara", "daniel", "laura", "max",
    "nina", "paul", "rita", "omar", "yuki",
)  # fmt: skip
LAST_NAMES = (
    "silva", "santos", "ferreira", "pereira", "costa", "almeida", "nowak", "kowalski", "wisniewska", "wojcik",
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
    "smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green", "hall", "novak",
    "horvat", "meyer", "schmidt", "fischer", "weber", "rossi", "russo", "romano", "tanaka",
)  # fmt: skip

# What people ask each desk about: ticket subjects, and the gist of questions the KB cannot answer yet.
TOPICS: dict[str, tuple[str, ...]] = {
    "it": (
        "VPN keeps disconnecting",
        "Cannot sign in after password change",
        "MFA prompt never arrives on my phone",
        "Laptop very slow since the update",
        "Floor printer offline",
        "Outlook mailbox full",
        "Need admin rights to install software",
        "Docking station does not detect monitors",
        "Wi-Fi certificate warning in the office",
        "Shared mailbox missing in Outlook",
    ),
    "hr": (
        "Annual leave balance looks wrong",
        "Payslip not visible in the portal",
        "Need an employment certificate",
        "Question about parental leave",
        "How do I report sick leave",
        "Change of bank details for salary",
        "Health insurance enrolment for my partner",
        "Onboarding checklist for a new hire",
    ),
    "facilities": (
        "Badge does not open the 3rd floor door",
        "Lost my badge",
        "Meeting room screen not working",
        "Office too cold on the 2nd floor",
        "Broken chair at my desk",
        "Parking permit request",
        "Visitor registration for tomorrow",
        "Locker key lost",
    ),
    "finance": (
        "Expense report rejected",
        "Reimbursement not received",
        "Corporate card lost",
        "Purchase order approval stuck",
        "Supplier says invoice unpaid",
        "Per diem for a trip abroad",
        "Foreign currency receipt conversion",
    ),
}
# Unanswered questions, in paraphrases, with the desk they would go to: the knowledge gaps of the demo.
GAPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("it", ("second monitor for home office", "how to get a second monitor at home", "home office monitor request")),
    ("it", ("laptop battery swollen", "my laptop battery is swollen", "swollen battery laptop what to do")),
    ("it", ("install python on my laptop", "python installation laptop", "how to install python")),
    ("hr", ("bike to work scheme", "bike to work scheme application", "cycle to work scheme")),
    ("hr", ("sabbatical leave policy", "can I take a sabbatical", "sabbatical leave rules")),
    ("facilities", ("bike parking in the garage", "where can I park my bike", "bike parking garage access")),
    ("facilities", ("shower and towels at the office", "office showers towels", "are there showers in the office")),
    ("finance", ("home internet expense claim", "claim home internet costs", "home internet reimbursement")),
    ("finance", ("mileage allowance rate", "mileage rate for my own car", "car mileage allowance")),
)
NOISE_QUERIES = ("asdf", "help", "lunch menu today", "who is my manager", "wifi", "printer", "holiday calendar")

AGENT_REPLIES = (
    "Thanks for reporting this. I am looking into it now.",
    "I have picked this up; could you confirm when it started?",
    "Thanks, we are on it. I will update you here.",
)
PENDING_QUESTIONS = (
    "Could you send a screenshot of the error message?",
    "Can you confirm your device's asset tag?",
    "Could you tell us which days this affects?",
)
REQUESTER_REPLIES = ("Here it is, thanks.", "Done, see attached.", "Yes, it still happens.")
NOTES = (
    "Known issue, linked to last week's change.",
    "Checked the logs: same cause as the previous case.",
    "Escalated to second line for the fix.",
)
RESOLUTIONS = (
    "Reset the configuration and confirmed with the requester that it works again.",
    "Applied the documented fix; the requester confirmed.",
    "Replaced the faulty part and tested it together with the requester.",
)
