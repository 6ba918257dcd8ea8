"""freemium-sim: agent-based simulation of a freemium music-streaming market."""
__version__ = "0.1.0"
