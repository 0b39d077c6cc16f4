"""The channel-agnostic conversation: reporters fill in, correct and follow their reports."""

from bot.conversation.engine import (
    COMMANDS,
    Actor,
    Choice,
    ConversationEngine,
    Input,
    Reply,
)

__all__ = ["COMMANDS", "Actor", "Choice", "ConversationEngine", "Input", "Reply"]
