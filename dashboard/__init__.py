"""The media team's Dash dashboard and its JSON API."""
