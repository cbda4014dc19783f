"""A headless pjsua2 softphone for tests: one process, one role (caller or agent), on 127.0.0.1.

Run by the tests as a subprocess (bounded by --max-seconds and killed by PID in teardown).
Commands arrive on stdin, one per line: `call URI`, `dtmf DIGITS`, `stats`, `hangup`, `quit`.
Events leave on stdout as JSON lines: ready, state, media, dtmf, transfer_request,
transfer_status, replaced, incoming, stats, bye.

It plays a WAV file into every call (--play) and records what it hears on each call into
`{--record-prefix}{n}.wav`. Field notes: null audio device, no VAD, SIP and media bound to
127.0.0.1, and G.711 at the top of the codec priorities (else pjsua picks speex).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
import time

import pjsua2 as pj

OUT = sys.stdout


def emit(kind: str, **fields) -> None:
    OUT.write(json.dumps({"event": kind, **fields}) + "\n")
    OUT.flush()


class Phone:
    def __init__(self, args) -> None:
        self.args = args
        self.calls: list["PeerCall"] = []
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = f"pjsua2-test-{args.role}"
        cfg.logConfig.level = args.log_level
        cfg.logConfig.consoleLevel = args.log_level
        cfg.medConfig.noVad = True
        cfg.medConfig.clockRate = 8000
        cfg.medConfig.sndClockRate = 8000
        cfg.medConfig.threadCnt = 1
        cfg.medConfig.ecTailLen = 0
        self.ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = args.port
        tcfg.boundAddress = "127.0.0.1"
        tcfg.publicAddress = "127.0.0.1"
        self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        if args.tls_port:  # SIP over TLS beside UDP, with the test's self-signed certificate
            tls = pj.TransportConfig()
            tls.port, tls.boundAddress, tls.publicAddress = args.tls_port, "127.0.0.1", "127.0.0.1"
            tls.tlsConfig.certFile, tls.tlsConfig.privKeyFile = args.tls_cert, args.tls_key
            self.ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tls)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        for codec in self.ep.codecEnum2():
            self.ep.codecSetPriority(codec.codecId, 0)
        order = [f"{c}/8000/1" for c in args.codecs.split(",")]
        for i, codec in enumerate(order):
            self.ep.codecSetPriority(codec, 255 - i)
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{args.role}@127.0.0.1:{args.port}"
        acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
        acfg.mediaConfig.transportConfig.port = args.rtp_port
        acfg.mediaConfig.transportConfig.portRange = 40
        acfg.natConfig.iceEnabled = False
        acfg.natConfig.sdpNatRewriteUse = 0
        acfg.natConfig.viaRewriteUse = 0
        acfg.natConfig.contactRewriteUse = 0
        acfg.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
        if args.srtp != "off":  # SDES only (no DTLS-SRTP), keys only over TLS signalling
            acfg.mediaConfig.srtpUse = pj.PJMEDIA_SRTP_MANDATORY if args.srtp == "mandatory" else pj.PJMEDIA_SRTP_OPTIONAL
            acfg.mediaConfig.srtpSecureSignaling = 1
            acfg.mediaConfig.srtpOpt.keyings = pj.IntVector([pj.PJMEDIA_SRTP_KEYING_SDES])
        self.acc = Account(self)
        self.acc.create(acfg)
        self.player = None
        if args.play:
            self.player = pj.AudioMediaPlayer()
            self.player.createPlayer(args.play, 0)  # loop
        emit("ready", port=args.port)

    def new_call(self, call_id: int = pj.PJSUA_INVALID_ID) -> "PeerCall":
        call = PeerCall(self, call_id)
        self.calls.append(call)
        return call

    def stats(self) -> None:
        for call in self.calls:
            info = {"n": call.n, "active": False}
            try:
                if call.isActive() and call.hasMedia():
                    st = call.getStreamStat(0)
                    si = call.getStreamInfo(0)
                    info.update(active=True, rx=st.rtcp.rxStat.pkt, tx=st.rtcp.txStat.pkt, codec=si.codecName,
                                remote=si.remoteRtpAddress, call_id=call.getInfo().callIdString)
            except pj.Error as exc:
                info["error"] = exc.info()
            emit("stats", **info)

    def command(self, line: str) -> bool:
        cmd, _, arg = line.strip().partition(" ")
        live = [c for c in self.calls if c.alive]
        if cmd == "call":
            call = self.new_call()
            prm = pj.CallOpParam(True)
            call.makeCall(arg, prm)
        elif cmd == "dtmf" and live:
            live[-1].dialDtmf(arg)
        elif cmd == "stats":
            self.stats()
        elif cmd == "hangup":
            self.ep.hangupAllCalls()
        elif cmd == "quit":
            return False
        return True


class Account(pj.Account):
    def __init__(self, phone: Phone) -> None:
        super().__init__()
        self.phone = phone

    def onIncomingCall(self, prm) -> None:
        call = self.phone.new_call(prm.callId)
        info = call.getInfo()
        emit("incoming", n=call.n, call_id=info.callIdString, remote=info.remoteUri)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class PeerCall(pj.Call):
    count = 0

    def __init__(self, phone: Phone, call_id: int) -> None:
        super().__init__(phone.acc, call_id)
        self.phone = phone
        PeerCall.count += 1
        self.n = PeerCall.count
        self.alive = True
        self.recorder = None

    def onCallState(self, prm) -> None:
        info = self.getInfo()
        emit("state", n=self.n, state=info.stateText, status=info.lastStatusCode, call_id=info.callIdString)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.alive = False

    def onCallMediaState(self, prm) -> None:
        info = self.getInfo()
        for i, mi in enumerate(info.media):
            if mi.type == pj.PJMEDIA_TYPE_AUDIO and mi.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                aud = self.getAudioMedia(i)
                if self.phone.player is not None:
                    self.phone.player.startTransmit(aud)
                if self.recorder is None and self.phone.args.record_prefix:
                    self.recorder = pj.AudioMediaRecorder()
                    self.recorder.createRecorder(f"{self.phone.args.record_prefix}{self.n}.wav")
                    aud.startTransmit(self.recorder)
                si = self.getStreamInfo(i)
                # pjsua2 reports SRTP only in its call dump ("SRTP status: Active Crypto-suite: X").
                active = [ln.split("Crypto-suite:")[1].strip() for ln in self.dump(True, "").splitlines()
                          if "SRTP status: Active" in ln and "Crypto-suite:" in ln]
                emit("media", n=self.n, codec=si.codecName, srtp=active[0] if active else None)

    def onDtmfDigit(self, prm) -> None:
        emit("dtmf", n=self.n, digit=prm.digit)

    def onCallTransferRequest(self, prm) -> None:
        emit("transfer_request", n=self.n, target=prm.dstUri)
        prm.statusCode = 202
        prm.newCall = self.phone.new_call()

    def onCallTransferStatus(self, prm) -> None:
        emit("transfer_status", n=self.n, code=prm.statusCode, final=prm.finalNotify)

    def onCallReplaceRequest(self, prm) -> None:
        emit("replace_request", n=self.n)
        prm.statusCode = 200
        prm.newCall = self.phone.new_call()

    def onCallReplaced(self, prm) -> None:
        emit("replaced", n=self.n, new_call_id=prm.newCallId)
        if prm.newCall is None:
            prm.newCall = self.phone.new_call(prm.newCallId)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--rtp-port", type=int, required=True)
    ap.add_argument("--codecs", default="PCMU,PCMA")
    ap.add_argument("--play")
    ap.add_argument("--record-prefix")
    ap.add_argument("--max-seconds", type=float, default=30)
    ap.add_argument("--log-level", type=int, default=1)
    ap.add_argument("--tls-port", type=int, default=0)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--srtp", choices=("off", "optional", "mandatory"), default="off")
    args = ap.parse_args()
    phone = Phone(args)
    deadline = time.monotonic() + args.max_seconds
    running = True
    while running and time.monotonic() < deadline:
        phone.ep.libHandleEvents(10)
        ready, _, _ = select.select([sys.stdin], [], [], 0)
        if ready:
            line = sys.stdin.readline()
            if not line:
                break
            running = phone.command(line)
    phone.ep.hangupAllCalls()
    end = time.monotonic() + 1.0
    while time.monotonic() < end and any(c.alive for c in phone.calls):
        phone.ep.libHandleEvents(10)
    for call in phone.calls:
        call.recorder = None  # closes the WAV file (its header gets the length)
    emit("bye")
    os._exit(0)  # libDestroy with live Python-side objects can crash; the OS cleans up


if __name__ == "__main__":
    main()
