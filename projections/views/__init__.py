"""Read-model writers (views): each commits its rows and its checkpoint in one transaction."""
