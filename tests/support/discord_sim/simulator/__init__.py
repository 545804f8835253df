"""``DiscordSimulator``, built in layers: state < store < queries < world < actions < simulator."""

from .simulator import DiscordSimulator

__all__ = ["DiscordSimulator"]
