"""The library's JSON transcoder, decoding with orjson: every projection decodes every event it
handles, and the standard parser calls a Python hook for each JSON object of an event.

The stored format is unchanged (the library's encoder writes it; custom types as
`{"_type_": name, "_data_": data}`). `decode` parses with orjson, then restores custom types
bottom-up, as the library's `object_hook` does: only when the text holds a `"_type_"` key at
all, and without walking the document when every one of them is a top-level value. What orjson
refuses (NaN, Infinity) or would read differently (integers beyond 64 bits, which it turns into
floats; any run of 19 digits sends the text this way) is decoded by the library's decoder, so
every stored event reads back exactly as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder

_MARKER = b'"_type_"'
# A run of 19 digits may be an integer orjson does not keep exact. Found by mapping digits to
# "0" and everything else to " " (C speed; a regular expression takes 20 times longer).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


class FastJSONTranscoder(JSONTranscoder):
    def decode(self, data: bytes) -> Any:
        if _LONG_RUN in data.translate(_DIGITS_AS_ZERO):
            return super().decode(data)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        markers = data.count(_MARKER)
        if markers == 0:
            return obj
        if type(obj) is dict:
            restored = self._restore_top_level(obj, markers)
            if restored is not None:
                return restored
        return self._restore(obj)

    def _restore_top_level(self, obj: dict[str, Any], markers: int) -> dict[str, Any] | None:
        """The common case, without a walk: every custom type is a top-level value (an event's
        timestamp, say) holding plain data. None when that is not certain."""
        if "_type_" in obj:
            return None
        typed = []
        for key, value in obj.items():
            if type(value) is dict and "_type_" in value:
                inner = value.get("_data_")
                if type(inner) is dict or type(inner) is list:
                    return None
                typed.append(key)
        if len(typed) != markers:  # others are nested deeper (or the text is in a string)
            return None
        for key in typed:
            obj[key] = self._decode_obj(obj[key])
        return obj

    def _restore(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is dict:
            for key, value in obj.items():
                if type(value) is dict or type(value) is list:
                    obj[key] = self._restore(value)
            return self._decode_obj(obj)
        if kind is list:
            for index, value in enumerate(obj):
                if type(value) is dict or type(value) is list:
                    obj[index] = self._restore(value)
        return obj
