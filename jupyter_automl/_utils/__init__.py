"""Small helpers every layer may use: files written atomically, durations, objectives, quiet
imports. They know nothing of studies."""
