"""The possync actors, by concern: gateway/, streaming/, polling/, registry/, lake/, service/.

`tree` declares the whole application tree and `names` every actor name. What every actor package
shares is here: asking another actor by name with a deadline, and the base of the actors that run
inside a tree with a self-timer.
"""

from loguru import logger

from possync.actors._asking import Unavailable, ask_by_name, tell_by_name, to_handlers
from possync.actors._tree_actor import SelfTimer, TreeActor

logger.disable(__name__)

__all__ = ["SelfTimer", "TreeActor", "Unavailable", "ask_by_name", "tell_by_name", "to_handlers"]
