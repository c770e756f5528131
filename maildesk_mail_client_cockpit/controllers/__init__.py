from . import ai_panel
