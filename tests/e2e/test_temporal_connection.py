"""The connection options against a real server: an API key over a plain connection (as behind a
TLS-terminating proxy), and TLS refused by a server that does not speak it, with a clear error."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from journeys_app.core.settings import Settings
from journeys_app.core.temporal import TemporalUnreachable, connect


async def test_an_api_key_is_sent_and_tls_is_really_used(dev_server: WorkflowEnvironment):
    address = dev_server.client.service_client.config.target_host
    client = await connect(Settings(temporal_api_key="ops-key", temporal_tls=False), address)
    assert client.service_client.config.api_key == "ops-key"
    assert client.service_client.config.tls is False
    await client.count_workflows()  # the server answers over this connection

    with pytest.raises(TemporalUnreachable, match="TLS"):
        await connect(Settings(temporal_api_key="ops-key"), address)  # TLS on: the dev server is plain
