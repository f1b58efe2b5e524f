"""Orders, messages, options, templates and the conversation rules: pure Python."""
