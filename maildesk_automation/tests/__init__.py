from . import test_conversation_state
