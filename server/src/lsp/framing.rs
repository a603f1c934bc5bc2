//! A guard in front of the LSP transport: every frame from the client is checked to be JSON before
//! tower-lsp-server sees it. tower-lsp-server ends the whole session (exit code 0, nothing said) on
//! one frame it cannot decode (invalid JSON, a lone surrogate escape such as `"\ud800"`); here such a
//! frame gets a JSON-RPC `-32700 Parse error` answer (id `null`, as JSON-RPC 2.0 says when the id cannot
//! be read) and the session goes on.
//!
//! Invariants:
//! - Frames pass through byte for byte, in order; only frames that are not JSON are held back.
//! - Everything written to stdout is whole frames from one writer task, so an error answer never lands
//!   inside a frame of the server's.
//! - End of input ends the server's input, as before: `exit` and a closed pipe behave as without it.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The largest frame body accepted (an LSP message carrying a whole document; far above any real one).
const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// The pipes between the guard and the server.
const PIPE_BYTES: usize = 1024 * 1024;

/// One frame read from a stream: its body, or why it could not be read as a frame.
enum Frame {
    Body(Vec<u8>),
    /// A header without a usable `Content-Length`, or a body past the cap: answered, then skipped.
    Bad(String),
    End,
}

async fn read_frame<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Frame {
    let mut length: Option<usize> = None;
    let mut saw_header = false;
    loop {
        let mut line = Vec::new();
        match reader.read_until(b'\n', &mut line).await {
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
        let mut rest = reader.take(length as u64);
        let _ = tokio::io::copy(&mut rest, &mut tokio::io::sink()).await;
        return Frame::Bad(format!(
            "a message of {length} bytes, more than the {MAX_FRAME_BYTES} accepted"
        ));
    }
    let mut body = vec![0; length];
    match reader.read_exact(&mut body).await {
        Ok(_) => Frame::Body(body),
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

/// Wraps the client's `input` and `output`: returns the streams to hand to tower-lsp-server instead.
pub fn guard<I, O>(input: I, output: O) -> (impl AsyncRead + Unpin, impl AsyncWrite + Unpin)
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (mut to_server, server_input) = tokio::io::duplex(PIPE_BYTES);
    let (server_output, from_server) = tokio::io::duplex(PIPE_BYTES);
    let (frames, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();

    // The one writer of `output`.
    tokio::spawn(async move {
        let mut output = output;
        while let Some(bytes) = outgoing.recv().await {
            if output.write_all(&bytes).await.is_err() || output.flush().await.is_err() {
                break;
            }
        }
    });

    // The server's frames, whole, to the writer.
    let server_frames = frames.clone();
    tokio::spawn(async move {
        let mut reader = BufReader::new(from_server);
        loop {
            match read_frame(&mut reader).await {
                Frame::Body(body) => {
                    if server_frames.send(frame(&body)).is_err() {
                        break;
                    }
                }
                Frame::Bad(why) => tracing::warn!("the server wrote {why}"),
                Frame::End => break,
            }
        }
    });

    // The client's frames: JSON passes to the server, anything else is answered here.
    tokio::spawn(async move {
        let mut reader = BufReader::new(input);
        loop {
            match read_frame(&mut reader).await {
                Frame::Body(body) => match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(_) => {
                        if to_server.write_all(&frame(&body)).await.is_err() {
                            break;
                        }
                    }
                    Err(error) => {
                        tracing::warn!("a client message is not JSON ({error}); answered with a parse error");
                        let _ = frames.send(parse_error(&error.to_string()));
                    }
                },
                Frame::Bad(why) => {
                    tracing::warn!("the client sent {why}; answered with a parse error");
                    let _ = frames.send(parse_error(&why));
                }
                Frame::End => break,
            }
        }
        let _ = to_server.shutdown().await;
    });

    (server_input, server_output)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all_frames(mut reader: BufReader<tokio::io::DuplexStream>, count: usize) -> Vec<serde_json::Value> {
        let mut res = Vec::new();
        for _ in 0..count {
            match read_frame(&mut reader).await {
                Frame::Body(body) => res.push(serde_json::from_slice(&body).unwrap()),
                _ => break,
            }
        }
        res
    }

    #[tokio::test]
    async fn bad_frames_are_answered_and_good_ones_pass_in_order() {
        let (mut client, input) = tokio::io::duplex(4096);
        let (output, client_reads) = tokio::io::duplex(4096);
        let (server_input, _server_output) = guard(input, output);
        let good = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        client.write_all(&frame(br#"{"jsonrpc":"2.0","id":2,"#)).await.unwrap();
        client.write_all(&frame(br#"{"s":"\ud800"}"#)).await.unwrap();
        client.write_all(&frame(good)).await.unwrap();
        client.shutdown().await.unwrap();
        let errors = read_all_frames(BufReader::new(client_reads), 2).await;
        assert_eq!(errors.len(), 2, "{errors:?}");
        for error in &errors {
            assert_eq!(error["error"]["code"], -32700, "{error}");
            assert_eq!(error["id"], serde_json::Value::Null);
        }
        let mut passed = Vec::new();
        let mut server_input = server_input;
        server_input.read_to_end(&mut passed).await.unwrap();
        assert_eq!(passed, frame(good));
    }
}
