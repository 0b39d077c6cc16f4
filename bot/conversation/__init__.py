"""The channel-agnostic conversation: reporters fill in, correct and follow their reports.

`engine` (the turn of a reporter's conversation), `types` (Input, Reply, Choice, Actor and a
turn's state), `callback` (steps, button tokens, callback data), `context` (a draft with what it
refers to), `start` (which unit, deliverable or report; the first question), `prompts` (questions,
choices, summary), `receipt` (what was recorded), `status` (/tinhtrang).
"""

from bot.conversation.callback import COMMANDS
from bot.conversation.engine import ConversationEngine
from bot.conversation.types import Actor, Choice, Input, Reply

__all__ = ["COMMANDS", "Actor", "Choice", "ConversationEngine", "Input", "Reply"]
