"""The mix explorer: a page (static/) and the small HTTP app that serves it
and forwards its requests to a model server's REST API. Free of Keras and
of the exporter."""
