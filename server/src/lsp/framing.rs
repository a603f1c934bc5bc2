//! The LSP transport between the client and tower-lsp-server, and a guard in it: every frame from the
//! client is checked to be JSON before tower-lsp-server sees it. tower-lsp-server ends the whole session
//! (exit code 0, nothing said) on one frame it cannot decode (invalid JSON, a lone surrogate escape such
//! as `"\ud800"`); here such a frame gets a JSON-RPC `-32700 Parse error` answer (id `null`, as JSON-RPC
//! 2.0 says when the id cannot be read) and the session goes on.
//!
//! It is also the keystroke's path, so it is short: one thread reads the client's frames (blocking reads
//! of stdin) and hands each to the server's task, which answers, and the server's frames are written to
//! stdout by whoever writes them, at once. An edit wakes two threads (the reader, then the server's),
//! where tokio's stdin and stdout, a pipe per direction and a writer task woke seven, each a chance to
//! wait for a busy CPU.
//!
//! Invariants:
//! - Frames pass through byte for byte, in order; only frames that are not JSON are held back.
//! - Everything written to the output is whole frames, each written under one lock (tower-lsp-server
//!   writes only whole encoded frames, and a write here never stops half way), so an error answer never
//!   lands inside a frame of the server's.
//! - End of input ends the server's input, as before: `exit` and a closed pipe behave as without it.
//! - The reader thread only reads, checks and forwards; a server that falls behind holds it back (a
//!   bounded channel), so a flood of frames is not buffered without limit.

use std::io::{BufRead, BufReader, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

/// The largest frame body accepted (an LSP message carrying a whole document; far above any real one).
const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Client frames read ahead of the server at most.
const FRAMES_AHEAD: usize = 64;

/// One frame read from a stream: its body, or why it could not be read as a frame.
enum Frame {
    Body(Vec<u8>),
    /// A header without a usable `Content-Length`, or a body past the cap: answered, then skipped.
    Bad(String),
    End,
}

fn read_frame<R: Read>(reader: &mut BufReader<R>) -> Frame {
    let mut length: Option<usize> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return Frame::End,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if !saw_header {
                // Blank lines between frames.
                continue;
            }
            break;
        }
        saw_header = true;
        if let Some((name, value)) = text.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok();
        }
    }
    let Some(length) = length else {
        return Frame::Bad("a message header without a valid Content-Length".to_string());
    };
    if length > MAX_FRAME_BYTES {
        // Skip the body without holding it.
        let _ = std::io::copy(&mut reader.take(length as u64), &mut std::io::sink());
        return Frame::Bad(format!(
            "a message of {length} bytes, more than the {MAX_FRAME_BYTES} accepted"
        ));
    }
    let mut body = vec![0; length];
    match reader.read_exact(&mut body) {
        Ok(()) => Frame::Body(body),
        Err(_) => Frame::End,
    }
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut res = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    res.extend_from_slice(body);
    res
}

fn parse_error(why: &str) -> Vec<u8> {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32700, "message": format!("Parse error: {why}")},
    });
    frame(body.to_string().as_bytes())
}

/// The process's stdin and stdout as plain files (duplicated descriptors): reads and writes go straight
/// to the pipes, without std's line buffering of stdout (which splits a frame into two writes).
pub fn stdio() -> (Box<dyn Read + Send>, Box<dyn Write + Send>) {
    use std::os::fd::AsFd;
    let input: Box<dyn Read + Send> = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::stdin()),
    };
    let output: Box<dyn Write + Send> = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::stdout()),
    };
    (input, output)
}

/// The output every frame is written to, whole, under one lock.
struct Output(Arc<Mutex<Box<dyn Write + Send>>>);

impl Output {
    fn write_frame(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut output = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        output.write_all(bytes)?;
        output.flush()
    }
}

/// The server's side of the output: each write is written through at once (tower-lsp-server writes
/// whole encoded frames). A client that stops reading holds the writer back, as a full pipe does.
impl AsyncWrite for Output {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write_frame(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The server's side of the input: the client's checked frames, in order; end of input when the reader
/// thread ends.
struct Input {
    frames: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    read: usize,
}

impl AsyncRead for Input {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while this.read == this.current.len() {
            match std::task::ready!(this.frames.poll_recv(cx)) {
                Some(next) => {
                    this.current = next;
                    this.read = 0;
                }
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(this.current.len() - this.read);
        buf.put_slice(&this.current[this.read..this.read + n]);
        this.read += n;
        Poll::Ready(Ok(()))
    }
}

/// Wraps the client's `input` and `output`: returns the streams to hand to tower-lsp-server instead.
/// `input` is read on a thread of its own.
pub fn guard(
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
) -> (impl AsyncRead + Unpin, impl AsyncWrite + Unpin) {
    let output: Arc<Mutex<Box<dyn Write + Send>>> = Arc::new(Mutex::new(Box::new(output)));
    let (to_server, frames) = mpsc::channel::<Vec<u8>>(FRAMES_AHEAD);
    let answers = Output(output.clone());
    // The client's frames: JSON passes to the server, anything else is answered here.
    let spawned = std::thread::Builder::new()
        .name("lsp-input".to_string())
        .spawn(move || {
            let mut reader = BufReader::new(input);
            loop {
                let read = read_frame(&mut reader);
                // Background store writes step aside while the editor's messages are arriving.
                crate::lookup::cache::write_behind::foreground_input();
                match read {
                    Frame::Body(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(_) => {
                            if to_server.blocking_send(frame(&body)).is_err() {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::warn!("a client message is not JSON ({error}); answered with a parse error");
                            let _ = answers.write_frame(&parse_error(&error.to_string()));
                        }
                    },
                    Frame::Bad(why) => {
                        tracing::warn!("the client sent {why}; answered with a parse error");
                        let _ = answers.write_frame(&parse_error(&why));
                    }
                    Frame::End => break,
                }
            }
        });
    if let Err(error) = spawned {
        // Without the thread the sender is dropped with the closure: the server sees end of input.
        tracing::error!("cannot start the thread that reads the client's messages: {error}");
    }
    let input = Input {
        frames,
        current: Vec::new(),
        read: 0,
    };
    (input, Output(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn read_all_frames(bytes: &[u8]) -> Vec<serde_json::Value> {
        let mut reader = BufReader::new(bytes);
        let mut res = Vec::new();
        while let Frame::Body(body) = read_frame(&mut reader) {
            res.push(serde_json::from_slice(&body).unwrap());
        }
        res
    }

    #[tokio::test]
    async fn bad_frames_are_answered_and_good_ones_pass_in_order() {
        let good = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let mut client = Vec::new();
        client.extend(frame(br#"{"jsonrpc":"2.0","id":2,"#));
        client.extend(frame(br#"{"s":"\ud800"}"#));
        client.extend(b"Content-Type: x\r\n\r\n");
        client.extend(frame(good));
        let written = Shared::default();
        let (mut server_input, _server_output) = guard(std::io::Cursor::new(client), written.clone());
        // The input ends after the last frame, so every answer was written by then.
        let mut passed = Vec::new();
        server_input.read_to_end(&mut passed).await.unwrap();
        assert_eq!(passed, frame(good));
        let errors = read_all_frames(&written.0.lock().unwrap());
        assert_eq!(errors.len(), 3, "{errors:?}");
        for error in &errors {
            assert_eq!(error["error"]["code"], -32700, "{error}");
            assert_eq!(error["id"], serde_json::Value::Null);
        }
    }

    /// A frame the server writes is on the output when the write returns: nothing waits in a buffer.
    #[tokio::test]
    async fn server_frames_reach_the_output_at_once() {
        use tokio::io::AsyncWriteExt;
        let written = Shared::default();
        let (_server_input, mut server_output) = guard(std::io::Cursor::new(Vec::new()), written.clone());
        let body = br#"{"jsonrpc":"2.0","method":"x","params":{}}"#;
        server_output.write_all(&frame(body)).await.unwrap();
        server_output.write_all(&frame(body)).await.unwrap();
        let frames = read_all_frames(&written.0.lock().unwrap());
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0]["method"], "x");
    }
}
