"""Pure audio handling (sans-I/O): wire formats, G.711, chunking-proof resampling, framing."""
