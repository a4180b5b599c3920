"""Cinder's fake test back end, plus an ``extend_volume`` that works.

DevStack's ``fake`` back end (``cinder.tests.fake_driver.
FakeLoggingVolumeDriver``) fails every extend: its ``FakeBrickLVM`` has no
``extend_volume`` and the volume ends in ``error_extending``. The DevStack
tier's local.conf selects this subclass instead; it is copied into the
container's system site-packages, which DevStack's venv sees. Test only.
"""

from cinder.tests import fake_driver


class FakeExtendableDriver(fake_driver.FakeLoggingVolumeDriver):
    def extend_volume(self, volume, new_size):
        pass
