"""Whether a title is a stored question: the entry of an FAQ (question clusters) rather than a document's name.

It matters to the answer decision: a question typed by an employee is a paraphrase of a stored question and
scores against it much higher than against documentation that answers it, so a KB of stored questions needs a
higher bar, which it measures on its own questions (kb.search.calibration).
"""

from __future__ import annotations

import re

# Words that open a question in the languages kb serves; a title ending in "?" counts whatever its language.
_OPENERS = re.compile(
    r"^(how|what|why|when|where|which|who|whom|whose|can|could|is|are|am|was|were|do|does|did|should|would|"
    r"will|shall|may|might|must|has|have|had|any|there|"  # English
    r"como|qual|quais|quando|onde|porque|por que|posso|pode|"  # Portuguese
    r"comment|pourquoi|quel|quelle|quels|quelles|quand|où|est-ce|puis-je|peut-on|"  # French
    r"jak|dlaczego|czy|gdzie|kiedy|co|który|która|które"  # Polish
    r")\b",
    re.IGNORECASE,
)


# A stored question says what is asked; one or two words ("which", "who", "is-up": command names) do not.
MIN_WORDS = 3


def is_question(title: str) -> bool:
    title = title.strip()
    return len(title.split()) >= MIN_WORDS and (title.endswith("?") or bool(_OPENERS.match(title)))
