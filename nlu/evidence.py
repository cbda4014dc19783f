"""Enough evidence to act? Pure checks the dialog asks before it ends a call or hands it over.

Ending the call, transferring it and acting on a slot value each cost the caller something when
they are wrong, so each needs evidence in proportion: a hang-up before anything was done loses
the call; a transfer on a half sentence costs an agent and a queue; a yes/no question costs one
turn. The classifier's confidences are calibrated (temperature-scaled on out-of-fold logits,
nlu/intents.py), so a threshold on them is a bound on how often the bot acts on a wrong reading.

Thresholds (``settings`` in nlu/data/flows.yaml), from the intent model's calibration on its own
labelled data (``nlu/data/intents.yaml``, 478 examples): 5-fold out-of-fold predictions, each
fold's model fitted and calibrated without that fold (seed 1), checked against the held-out
stratified quarter the intent tests use (seed 42, 120 examples):

- ``transfer_confirm_below = 0.80``. Out of fold, ``speak_to_human`` predictions at >= 0.80 were
  30/30 right and the 3 below 0.80 were 0/3 right ("when can i call back and reach someone",
  "see you", "the person i spoke to yesterday hung up on me"). The sensitive intents (fraud,
  complaint, billing dispute, cancel) at >= 0.80: 94/96 right (one of the two a fraud/billing
  mix-up that still goes to a person); below 0.80: 8/13 right. So at 0.80 about 1 transfer in 50
  is wrong, and below it 4 in 10 would be: those are confirmed first (one yes/no turn). On the
  held-out quarter every prediction of either kind at >= 0.80 was right (7/7, 21/21).
- ``goodbye_confirm_below = 0.80``. Out of fold, goodbye predictions at >= 0.80 were 18/18 right;
  the 3 below were 2/3. 0.60 would fit those figures too, but a wrong hang-up loses the whole call
  while the check ("Is there anything else I can help with?") costs one turn and is what a person
  would say anyway, so the higher of the two values the data supports.
- A request for a person that does not name one ("I want to talk to", "Can I speak") is confirmed
  whatever its confidence: all 32 labelled ``speak_to_human`` examples name a person (agent,
  person, human, someone, representative, operator, manager...), so the model has no evidence for
  that reading without such a word, and it scores such fragments 0.96-0.98 all the same.
- An answer to the offer of a person ("Would you like that?") is a yes/no question's answer:
  a yes or no below ``confirm_below`` ("I guess so." scores 0.54 no), or thanks without words of
  leave ("Thank you.", "Thanks anyway.": 0.96-0.97 goodbye, and the usual shape of a "no, thank
  you" whose "no" was lost), is neither, so the question is asked again plainly once rather than
  taken as a goodbye or a refusal.
- A goodbye with clear signs of displeasure (sarcasm, an explicit complaint, profanity, strongly
  negative sentiment: the text cues of nlu/frustration_text.py) is not a goodbye: "Thanks for
  nothing." scores 1.00 goodbye. Before the bot has helped, sarcastic thanks ("Oh great, thanks a
  lot.", "Wonderful, just wonderful.") count as displeasure too; after a resolved request the
  same words are more likely meant.
"""

from __future__ import annotations

import re

from .frustration_text import TextCues
from .textnorm import normalise

# The words for a person (and for being put through to one) that every labelled request for a
# person contains; "robot"/"machine" for "I don't want to talk to a robot".
_PERSON = re.compile(
    r"\b(?:agents?|person|people|humans?|someone|somebody|anyone|anybody|representatives?|reps?|operators?"
    r"|advis[eo]rs?|managers?|supervisors?|staff|colleague|receptionist|robot|machine"
    r"|transfer me|put me (?:through|on))\b"
)
# Thanks that, before the bot has done anything, are sarcasm: "oh great, thanks a lot",
# "wonderful, just wonderful", "thanks a bunch".
_SARCASTIC_THANKS = re.compile(
    r"\b(?:oh|wow|well) (?:great|wonderful|brilliant|perfect|fantastic|lovely|marvellous|super)\b"
    r"|\b(great|wonderful|brilliant|perfect|fantastic|lovely|marvellous|super) just \1\b"
    r"|\bthanks a (?:bunch|million)\b|\bthanks a lot\b(?! for (?:your|the|all) help)"
)


# Words that take leave, as against thanks alone: "No, that's all. Thank you, goodbye." ends a
# conversation; "Thank you." or "Thanks anyway." answering "Would you like that?" may be a
# "no, thank you" with the "no" lost (Whisper heard "Now, thank you.", goodbye at 0.92).
_FAREWELL = re.compile(
    r"\b(?:good ?bye|bye|that's (?:all|it|everything)|that is (?:all|it)|nothing else|all done"
    r"|have a (?:good|nice|great) (?:day|one|evening|afternoon)|take care)\b"
)


def says_farewell(text: str) -> bool:
    """The turn takes leave in words (bye, that's all), not only thanks."""
    return bool(_FAREWELL.search(normalise(text)))


def names_a_person(text: str) -> bool:
    """The turn has a word for a person (or for being put through to one)."""
    return bool(_PERSON.search(normalise(text)))


def displeased(cues: TextCues, text: str, helped: bool) -> bool:
    """Clear signs the caller is unhappy, so a goodbye-shaped turn is not a goodbye.

    ``helped``: the bot has resolved something for the caller, after which "oh great, thanks a
    lot" is more likely meant than sarcastic.
    """
    if cues.sarcasm > 0 or cues.explicit > 0 or cues.profanity > 0 or cues.negative_sentiment > 0:
        return True
    return not helped and bool(_SARCASTIC_THANKS.search(normalise(text)))

