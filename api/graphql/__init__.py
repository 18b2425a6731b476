"""The GraphQL API (strawberry): the device slice, over HTTP and graphql-transport-ws."""
