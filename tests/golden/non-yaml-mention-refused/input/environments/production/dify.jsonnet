local dify = import 'dify.libsonnet';
dify.deployment('dify-api', image='registry.example.com/acme/dify-api:1.13.3')
