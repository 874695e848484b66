"""Online: the FastAPI app over a loaded index, the ranking functions, users and the command line."""

__version__ = "0.3.0"
