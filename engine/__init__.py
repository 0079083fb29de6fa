"""The sans-IO jsonchat engine."""
