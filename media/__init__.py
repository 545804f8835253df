"""Media work for the bot: downloads to temporary files, fitting videos under an upload limit
(FFmpeg), and fixing frames to Kling's image rules (Pillow). An adapter like gateway/ and
storage/: no Discord, no gateway API here, and every CPU-heavy step runs outside the event loop
(an FFmpeg subprocess, a worker process), with bounded concurrency."""
