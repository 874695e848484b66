"""Offline side of paperlens: sources -> papers -> vectors + lexical index + metadata -> an index folder."""
