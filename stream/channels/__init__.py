"""Where alerts are delivered: one small module per chat bot, and the signed webhook.

Each channel turns an alert into the HTTP request its platform documents (``request``) and
reads the platform's answer (``judge``): both pure, so the formats and signatures are
unit-tested; ``stream.deliverer`` does the sending and retrying.
"""
