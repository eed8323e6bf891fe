"""Suggestions: need/offer pairs proposed by the matcher, and the parties' answers."""
