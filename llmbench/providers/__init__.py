"""Provider layer: one interface over OpenAI, Anthropic, OpenAI-compatible servers and the offline simulator."""
