"""Outbound channels (SMS, WeChat template messages, e-mail, console, file) behind one small interface."""
