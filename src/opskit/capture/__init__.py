"""What a run captures: params, code, environment, data inputs."""
