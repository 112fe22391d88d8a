/*
 * wcs-trio JavaScript SDK: defines the global `Flashphoner`.
 *
 * Same public API (names, events, callback arguments, constant values) as the official
 * @flashphoner/websdk, written from scratch for WebRTC-only browsers (ES2020, no plugins).
 * It speaks "protocol 1", documented in core/api/PROTOCOL.md next to this folder.
 * MIT licence, part of wcs-trio.
 */
(function (global) {
  'use strict';

  const PROTOCOL_VERSION = 1;
  const freeze = Object.freeze;
  const byName = (...names) => freeze(Object.fromEntries(names.map((n) => [n, n])));

  // ---------------------------------------------------------------- constants
  const SESSION_STATUS = byName('CONNECTED', 'ESTABLISHED', 'DISCONNECTED', 'WARN', 'FAILED',
    'DEBUG', 'APP_DATA', 'SEND_DATA_STATUS', 'PENDING', 'REGISTERED', 'UNREGISTERED',
    'INCOMING_CALL');
  const STREAM_STATUS = byName('NEW', 'PENDING', 'PUBLISHING', 'PLAYING', 'PAUSED', 'UNPUBLISHED',
    'STOPPED', 'FAILED', 'PLAYBACK_PROBLEM', 'RESIZE', 'SNAPSHOT_COMPLETE', 'NOT_ENOUGH_BANDWIDTH');
  const CALL_STATUS = byName('NEW', 'RING', 'RING_MEDIA', 'HOLD', 'ESTABLISHED', 'FINISH', 'BUSY',
    'SESSION_PROGRESS', 'FAILED', 'PENDING', 'TRYING');
  const CALL_STATUS_INFO = freeze({
    NORMAL_CALL_CLEARING: 'Normal call clearing',
    FAILED_BY_SESSION_CREATION: 'Failed by session creation',
    FAILED_BY_ICE_ERROR: 'Failed by ICE error',
    FAILED_BY_RTP_ACTIVITY: 'Failed by RTP activity',
    FAILED_BY_RTMP_WRITER_ERROR: 'Failed by RTMP writer error',
    FAILED_BY_DTLS_FINGERPRINT_ERROR: 'Failed by DTLS fingerprint error',
    NO_COMMON_CODECS: 'No common codecs',
    FAILED_BY_DTLS_ERROR: 'Failed by DTLS error',
    FAILED_BY_ERROR: 'Failed by error',
    FAILED_BY_REQUEST_TIMEOUT: 'Failed by request timeout',
    TRANSCODING_REQUIRED_BUT_DISABLED: 'Transcoding required, but disabled',
  });
  const STREAM_STATUS_INFO = freeze({
    FAILED_BY_ICE_ERROR: 'Failed by ICE error',
    FAILED_BY_ICE_TIMEOUT: 'Failed by ICE timeout',
    FAILED_BY_KEEP_ALIVE: 'Failed by ICE keep alive',
    FAILED_BY_DTLS_FINGERPRINT_ERROR: 'Failed by DTLS fingerprint error',
    FAILED_BY_DTLS_ERROR: 'Failed by DTLS error',
    FAILED_BY_RTP_ACTIVITY: 'Failed by RTP activity',
    STOPPED_BY_SESSION_DISCONNECT: 'Stopped by session disconnect',
    STOPPED_BY_USER: 'Stopped by user',
    FAILED_BY_ERROR: 'Failed by error',
    SESSION_NOT_READY: 'Session not ready',
    SESSION_DOES_NOT_EXIST: 'Session does not exist',
    NO_COMMON_CODECS: 'No common codecs',
    TERMINATED_BY_KEEP_ALIVE: 'Terminated by keep-alive',
  });
  const ERROR_INFO = freeze({
    NONE_OF_MEDIAPROVIDERS_AVAILABLE: 'None of MediaProviders available',
    NONE_OF_PREFERRED_MEDIAPROVIDERS_AVAILABLE: 'None of preferred MediaProviders available',
    FLASHPHONER_API_NOT_INITIALIZED: 'Flashphoner API is not initialized',
    OPTIONS_URLSERVER_MUST_BE_PROVIDED: 'options.urlServer must be provided',
    INVALID_SESSION_STATE: 'Invalid session state',
    OPTIONS_MUST_BE_PROVIDED: 'options must be provided',
    INVALID_CALL_STATE: 'Invalid call state',
    EVENT_CANT_BE_NULL: "Event can't be null",
    CALLBACK_NEEDS_TO_BE_A_VALID_FUNCTION: 'Callback needs to be a valid function',
    OPTIONS_NAME_MUST_BE_PROVIDED: 'options.name must be provided',
    CAN_NOT_SWITCH_CAM: 'Number of cams is less than 2 or camera is already used by other application',
    CAN_NOT_SWITCH_MIC: 'Number of mics is less than 2 or microphone is already used by other application',
    CAN_NOT_SET_RESOLUTION: 'Cannot switch a published stream resolution',
    CAN_NOT_GET_STATS: 'Cannot get PeerConnection stats',
    LOCAL_ERROR: 'Local error',
  });
  const MEDIA_DEVICE_KIND = freeze({ OUTPUT: 'output', INPUT: 'input', ALL: 'all' });
  const TRANSPORT_TYPE = byName('UDP', 'TCP');
  const CONNECTION_QUALITY = byName('PERFECT', 'GOOD', 'BAD', 'UNKNOWN', 'UPDATE');
  const STREAM_EVENT_TYPE = freeze({
    AUDIO_MUTED: 'audioMuted', AUDIO_UNMUTED: 'audioUnmuted', VIDEO_MUTED: 'videoMuted',
    VIDEO_UNMUTED: 'videoUnmuted', DATA: 'data', SNAPSHOT_COMPLETED: 'snapshotCompleted',
    SNAPSHOT_FAILED: 'snapshotFailed', RESIZE: 'resize', NOT_ENOUGH_BANDWIDTH: 'notEnoughBandwidth',
  });
  const CONTENT_HINT_TYPE = freeze({ MOTION: 'motion', DETAIL: 'detail', TEXT: 'text' });
  const constants = freeze({
    SESSION_STATUS, STREAM_STATUS, CALL_STATUS, STREAM_STATUS_INFO, CALL_STATUS_INFO, ERROR_INFO,
    MEDIA_DEVICE_KIND, TRANSPORT_TYPE, CONNECTION_QUALITY, STREAM_EVENT: 'STREAM_EVENT',
    STREAM_EVENT_TYPE, CONTENT_HINT_TYPE,
  });
  const FINAL_CALL_STATUSES = [CALL_STATUS.FINISH, CALL_STATUS.FAILED, CALL_STATUS.BUSY];
  // A `fail` for one of these ends the session: the server closes the socket (PROTOCOL.md §3).
  const FATAL_FAIL_METHODS = ['connection', 'RegistrationStatusEvent'];

  // ---------------------------------------------------------------- helpers
  const nav = () => global.navigator || {};
  const ua = () => nav().userAgent || '';

  const Browser = freeze({
    isIE: () => !!(global.document && global.document.documentMode),
    isFirefox: () => /Firefox\//.test(ua()),
    isChrome: () => /Chrome\//.test(ua()) && /Google Inc/.test(nav().vendor || '') &&
      !/OPR\/|Edg\//.test(ua()),
    isEdge: () => /Edge\//.test(ua()),
    isChromiumEdge: () => /Chrome\//.test(ua()) && /Edg\//.test(ua()),
    isOpera: () => /OPR\//.test(ua()),
    isiOS: () => /iPad|iPhone|iPod/.test(ua()),
    isSafari: () => /safari|applewebkit/i.test(ua()) && !/chrome|android/i.test(ua()),
    isAndroid: () => /android/i.test(ua()),
    isSafariWebRTC: () => !!nav().mediaDevices && Browser.isSafari(),
    isSamsungBrowser: () => /SamsungBrowser/i.test(ua()),
    isAndroidFirefox: () => Browser.isAndroid() && /Firefox/i.test(ua()),
    version: () => {
      const m = ua().match(/(?:Version|Firefox|Chrome|OPR|Edg|SamsungBrowser)\/(\d+)/);
      return m ? m[1] : 0;
    },
  });

  // crypto.randomUUID exists only in secure contexts; pages served over plain http from a
  // non-loopback host are not one, so build an RFC 4122 version 4 id from getRandomValues.
  function uuid() {
    const b = global.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const LEVELS = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };
  function createLogger(options) {
    const conf = options || {};
    let level = LEVELS[conf.severity] ?? LEVELS.INFO;
    const enabled = options !== undefined && options !== null ? conf.enableLogs !== false : true;
    const out = conf.customLogger || global.console;
    const log = (name, method) => (prefix, ...args) => {
      if (enabled && LEVELS[name] >= level && out && out[method]) out[method](`[${prefix}]`, ...args);
    };
    return {
      debug: log('DEBUG', 'debug'), info: log('INFO', 'info'),
      warn: log('WARN', 'warn'), error: log('ERROR', 'error'),
      setLevel(name) { level = LEVELS[name] ?? level; },
      setPushLogs() {}, setConnection() {},
    };
  }

  function mustBeInitialized() {
    if (!api.initialized) throw new Error(ERROR_INFO.FLASHPHONER_API_NOT_INITIALIZED);
  }

  function checkOn(event, callback, TypeErr) {
    if (!event) throw new TypeErr(ERROR_INFO.EVENT_CANT_BE_NULL);
    if (typeof callback !== 'function') throw new Error(ERROR_INFO.CALLBACK_NEEDS_TO_BE_A_VALID_FUNCTION);
  }

  /** Remove the codecs named in `codecs` ("SILK,G722", case-insensitive) from an SDP text. */
  function stripCodecsFromSdp(sdp, codecs) {
    const names = splitCodecs(codecs);
    if (!names.length || !sdp) return sdp;
    const lines = sdp.split(/\r?\n/);
    const dropped = new Set();
    for (const line of lines) {
      const m = line.match(/^a=rtpmap:(\d+) ([^/\s]+)/);
      if (m && names.includes(m[2].toUpperCase())) dropped.add(m[1]);
    }
    if (!dropped.size) return sdp;
    const kept = lines.filter((line) => {
      const m = line.match(/^a=(?:rtpmap|fmtp|rtcp-fb):(\d+)[ \s]/);
      return !(m && dropped.has(m[1]));
    }).map((line) => {
      if (!/^m=(audio|video) /.test(line)) return line;
      const parts = line.split(' ');
      return parts.slice(0, 3).concat(parts.slice(3).filter((pt) => !dropped.has(pt))).join(' ');
    });
    return kept.join('\r\n');
  }

  function splitCodecs(codecs) {
    const list = Array.isArray(codecs) ? codecs : String(codecs || '').split(',');
    return list.map((c) => String(c).trim().toUpperCase()).filter(Boolean);
  }

  /** Accept sipHeaders as {name: value} or ["Name: value", ...]; send an object (PROTOCOL.md §2). */
  function normaliseSipHeaders(headers) {
    if (!headers) return undefined;
    if (!Array.isArray(headers)) return { ...headers };
    const out = {};
    for (const h of headers) {
      const i = String(h).indexOf(':');
      if (i > 0) out[String(h).slice(0, i).trim()] = String(h).slice(i + 1).trim();
    }
    return out;
  }

  function defaultConstraints() {
    return { audio: true, video: { width: 320, height: 240 } };
  }

  // getUserMedia constraints from SDK constraints: width/height numbers become ideals, the
  // SDK-only fields (customStream, outputId, bitrates) are removed.
  function normaliseConstraints(constraints) {
    const c = { audio: constraints.audio, video: constraints.video };
    const clean = (v, drop) => {
      if (!v || typeof v !== 'object') return !!v;
      const o = { ...v };
      for (const k of drop) delete o[k];
      return o;
    };
    c.audio = clean(c.audio, ['outputId', 'stereo', 'bitrate', 'fec']);
    c.video = clean(c.video, ['bitrate', 'minBitrate', 'maxBitrate', 'quality', 'type']);
    return c;
  }

  // ---------------------------------------------------------------- local media
  const LOCAL_ATTR = 'data-flashphoner-local';
  const REMOTE_ATTR = 'data-flashphoner-remote';

  function createVideoElement(marker) {
    const v = global.document.createElement('video');
    v.setAttribute(marker, '');
    v.setAttribute('playsinline', '');
    v.autoplay = true;
    v.muted = true;
    v.style.width = '100%';
    v.style.height = '100%';
    return v;
  }

  function localVideoOf(display) {
    return display && display.querySelector ? display.querySelector(`video[${LOCAL_ATTR}]`) : null;
  }

  function playElement(el) {
    const p = el.play && el.play();
    if (p && p.catch) {
      p.catch(() => {
        // Autoplay with sound refused (no user gesture): play muted rather than not at all.
        el.muted = true;
        el.play().catch(() => {});
      });
    }
  }

  async function getMediaAccessImpl(constraints, display) {
    const c = constraints || api.defaultConstraints || defaultConstraints();
    const md = nav().mediaDevices;
    let stream;
    if (c.customStream) {
      stream = c.customStream;
      if (c.audio || c.video) {
        const extra = await md.getUserMedia(normaliseConstraints(c));
        extra.getTracks().forEach((t) => stream.addTrack(t));
      }
    } else if (c.audio || c.video) {
      stream = await md.getUserMedia(normaliseConstraints(c));
    } else {
      stream = new global.MediaStream();
    }
    if (display) {
      releaseLocalMediaImpl(display);
      const v = createVideoElement(LOCAL_ATTR);
      v.srcObject = stream;
      display.appendChild(v);
      playElement(v);
    }
    return stream;
  }

  function releaseLocalMediaImpl(display) {
    const v = localVideoOf(display);
    if (!v) return false;
    if (v.srcObject) v.srcObject.getTracks().forEach((t) => t.stop());
    v.srcObject = null;
    v.remove();
    return true;
  }

  async function listDevices(labels, kind, deviceConstraints) {
    const md = nav().mediaDevices;
    const suffix = kind === MEDIA_DEVICE_KIND.ALL ? '' : (kind || MEDIA_DEVICE_KIND.INPUT);
    let devices = await md.enumerateDevices();
    if (labels) {
      const want = deviceConstraints || { audio: true, video: true };
      const c = {};
      for (const d of devices) {
        if (d.kind.startsWith('audio' + suffix) && want.audio) c.audio = want.audio;
        if (d.kind.startsWith('video' + suffix) && want.video) c.video = want.video;
      }
      if (!c.audio && !c.video) throw new Error(`${suffix} media devices not found`);
      const s = await md.getUserMedia(c);
      devices = await md.enumerateDevices();
      s.getTracks().forEach((t) => t.stop());
    }
    const list = { audio: [], video: [] };
    const counts = { mic: 0, speaker: 0, camera: 0 };
    for (const d of devices) {
      if (d.deviceId === 'communications') continue;
      let type;
      if (d.kind.startsWith('audio' + suffix)) type = d.kind === 'audioinput' ? 'mic' : 'speaker';
      else if (d.kind.startsWith('video' + suffix)) type = 'camera';
      else continue;
      const label = d.label || { mic: 'microphone', speaker: 'speaker', camera: 'camera' }[type] + ++counts[type];
      (type === 'camera' ? list.video : list.audio).push({ id: d.deviceId, label, type });
    }
    return list;
  }

  // ---------------------------------------------------------------- statistics
  const STAT_SKIP = new Set(['id', 'type', 'timestamp', 'kind', 'ssrc', 'transportId', 'codecId',
    'remoteId', 'localId', 'trackIdentifier', 'mediaSourceId', 'mid']);

  function statsSummary(report, pc) {
    const result = { outboundStream: {}, inboundStream: {}, otherStats: {} };
    const codecs = new Map();
    report.forEach((r) => { if (r.type === 'codec') codecs.set(r.id, r); });
    report.forEach((r) => {
      if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded') {
        for (const k of ['availableIncomingBitrate', 'availableOutgoingBitrate', 'currentRoundTripTime']) {
          if (r[k] !== undefined) result.otherStats[k] = r[k];
        }
      }
      const side = r.type === 'outbound-rtp' ? result.outboundStream
        : r.type === 'inbound-rtp' ? result.inboundStream : null;
      if (!side || !r.kind) return;
      const prev = side[r.kind];
      // Several reports of one kind (simulcast layers): keep the busiest.
      if (prev && (prev.bytesSent || prev.bytesReceived || 0) > (r.bytesSent || r.bytesReceived || 0)) return;
      const o = {};
      for (const [k, v] of Object.entries(r)) {
        if (!STAT_SKIP.has(k) && (typeof v === 'number' || typeof v === 'string')) o[k] = v;
      }
      const codec = codecs.get(r.codecId);
      if (codec) {
        o.codec = (codec.mimeType || '').split('/')[1];
        o.codecRate = codec.clockRate;
      }
      if (r.kind === 'video') {
        if (r.frameWidth !== undefined) o.width = r.frameWidth;
        if (r.frameHeight !== undefined) o.height = r.frameHeight;
      }
      side[r.kind] = o;
      side[r.kind + 'Stats'] = o; // also the `audioStats`/`videoStats` shape older pages read
    });
    return result;
  }

  // ---------------------------------------------------------------- Call
  class Call {
    constructor(session, options, incoming) {
      this._session = session;
      this._options = options;
      this._incoming = !!incoming;
      this._id = options.callId || uuid();
      this._status = CALL_STATUS.NEW;
      this._callbacks = {};
      this._login = session._login();
      this._caller = incoming ? options.caller : this._login;
      this._callee = options.callee;
      this._visibleName = options.visibleName || this._login;
      this._localDisplay = options.localVideoDisplay || null;
      this._remoteDisplay = options.remoteVideoDisplay || null;
      this._constraints = options.constraints;
      const audio = this._constraints && this._constraints.audio;
      this._audioOutputId = audio && typeof audio === 'object' ? audio.outputId : undefined;
      this._info = undefined;
      this._errorInfo = undefined;
      this._pc = null;
      this._localStream = null;
      this._remoteEl = null;
      this._sent = false;
      this._logger = session.getLogger();
    }

    // --- identity and state
    id() { return this._id; }
    status() { return this._status; }
    caller() { return this._caller; }
    callee() { return this._callee; }
    visibleName() { return this._visibleName; }
    getInfo() { return this._info; }
    getErrorInfo() { return this._errorInfo; }
    getLogger() { return this._logger; }

    on(event, callback) {
      checkOn(event, callback, TypeError);
      this._callbacks[event] = callback;
      return this;
    }

    // --- outgoing
    call() {
      if (this._status !== CALL_STATUS.NEW) throw new Error(ERROR_INFO.INVALID_CALL_STATE);
      this._status = CALL_STATUS.PENDING;
      this._startOutgoing().catch((e) => this._localFailure(e));
    }

    async _startOutgoing() {
      const o = this._options;
      const constraints = this._constraints || api.defaultConstraints || defaultConstraints();
      this._localStream = await getMediaAccessImpl(constraints, this._localDisplay);
      if (this._ended()) return this._releaseMedia();
      const pc = this._createPeerConnection();
      const recvAudio = o.receiveAudio !== undefined ? !!o.receiveAudio : true;
      const recvVideo = o.receiveVideo !== undefined ? !!o.receiveVideo : true;
      const hasAudio = this._localStream.getAudioTracks().length > 0;
      const hasVideo = this._localStream.getVideoTracks().length > 0;
      // Like the official SDK: a call that captures media but no camera offers no video;
      // a call without any local media (an IVR) receives what receiveAudio/receiveVideo ask.
      const noLocal = !hasAudio && !hasVideo;
      for (const [kind, has, recv] of [['audio', hasAudio, recvAudio], ['video', hasVideo, recvVideo]]) {
        const track = this._localStream.getTracks().find((t) => t.kind === kind);
        if (has) {
          pc.addTransceiver(track, { direction: recv ? 'sendrecv' : 'sendonly', streams: [this._localStream] });
        } else if (recv && (kind === 'audio' || noLocal)) {
          pc.addTransceiver(kind, { direction: 'recvonly' });
        }
      }
      this._applyCodecPreferences(o.stripCodecs);
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (this._ended()) return this._releaseMedia();
      this._sent = true;
      this._session._send('call', this._callData(false, stripCodecsFromSdp(offer.sdp, o.stripCodecs),
        hasAudio, hasVideo, o));
    }

    _callData(incoming, sdp, hasAudio, hasVideo, o) {
      return {
        callId: this._id, incoming, hasVideo, hasAudio, status: this._status,
        mediaProvider: 'WebRTC', sdp, sipSDP: o.sipSDP, sipHeaders: normaliseSipHeaders(o.sipHeaders),
        stripCodecs: o.stripCodecs ? splitCodecs(o.stripCodecs).join(',') : undefined,
        caller: incoming ? this._login : this._caller, callee: this._callee,
        custom: this._options.custom, visibleName: this._visibleName,
      };
    }

    // --- incoming
    answer(answerOptions) {
      if (this._status !== CALL_STATUS.NEW && this._status !== CALL_STATUS.RING) {
        throw new Error(ERROR_INFO.INVALID_CALL_STATE);
      }
      const a = answerOptions || {};
      let sdp = this._session._takeRemoteSdp(this._id);
      if (!sdp) throw new Error('No remote sdp available');
      sdp = applySdpHook(sdp, a.sdpHook);
      this._localDisplay = a.localVideoDisplay || this._localDisplay;
      this._remoteDisplay = a.remoteVideoDisplay || this._remoteDisplay;
      const constraints = { ...(a.constraints || api.defaultConstraints || defaultConstraints()) };
      if (!/^m=video /m.test(sdp)) constraints.video = false;
      this._constraints = constraints;
      this._status = CALL_STATUS.PENDING;
      this._startAnswer(sdp, a).catch((e) => this._localFailure(e));
    }

    async _startAnswer(offerSdp, a) {
      this._localStream = await getMediaAccessImpl(this._constraints, this._localDisplay);
      if (this._ended()) return this._releaseMedia();
      const pc = this._createPeerConnection();
      await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      const recv = { audio: a.receiveAudio !== false, video: a.receiveVideo !== false };
      for (const t of pc.getTransceivers()) {
        const kind = t.receiver.track.kind;
        const track = this._localStream.getTracks().find((x) => x.kind === kind && !this._usedTrack(x));
        if (track) {
          await t.sender.replaceTrack(track);
          t.sender.setStreams && t.sender.setStreams(this._localStream);
          t.direction = recv[kind] ? 'sendrecv' : 'sendonly';
        } else {
          t.direction = recv[kind] ? 'recvonly' : 'inactive';
        }
      }
      this._applyCodecPreferences(a.stripCodecs);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (this._ended()) return this._closeConnection();
      this._sent = true;
      const o = { ...this._options, sipSDP: a.sipSDP, sipHeaders: a.sipHeaders, stripCodecs: a.stripCodecs };
      this._session._send('answer', this._callData(true, stripCodecsFromSdp(answer.sdp, a.stripCodecs),
        this._localStream.getAudioTracks().length > 0, true, o));
    }

    _usedTrack(track) {
      return this._pc.getSenders().some((s) => s.track === track);
    }

    // --- ending
    hangup() {
      if (this._status === CALL_STATUS.NEW && !this._incoming) {
        this._onStatus({ status: CALL_STATUS.FAILED });
        return;
      }
      const before = this._status;
      if (this._session._isOpen() && (this._incoming || this._sent || before !== CALL_STATUS.PENDING)) {
        this._session._send('hangup', { callId: this._id });
      }
      if (before === CALL_STATUS.NEW || before === CALL_STATUS.PENDING || !this._session._isOpen()) {
        // The server will not (or cannot) report the end of a call it has not accepted yet.
        this._onStatus({ status: before === CALL_STATUS.PENDING || before === CALL_STATUS.NEW
          ? CALL_STATUS.FAILED : CALL_STATUS.FINISH });
      } else {
        this._closeConnection();
      }
    }

    _ended() { return FINAL_CALL_STATUSES.includes(this._status); }

    _localFailure(error) {
      this._logger.error('call', error);
      this._info = ERROR_INFO.LOCAL_ERROR;
      this._errorInfo = error && error.message ? error.message : String(error);
      if (!this._ended()) this.hangup();
      if (!this._ended()) this._onStatus({ status: CALL_STATUS.FAILED });
    }

    /** A status body from the server (PROTOCOL.md §3), or a local status change. */
    _onStatus(body) {
      if (body.info !== undefined) this._info = body.info;
      if (body.sipStatus !== undefined) {
        this._errorInfo = `${body.sipStatus} ${body.sipMessage || ''}`.trim();
      }
      const wasEnded = this._ended();
      this._status = body.status;
      if (this._ended()) {
        this._session._forgetCall(this._id);
        this._closeConnection();
        if (wasEnded) return;
      }
      const cb = this._callbacks[body.status];
      if (cb) cb(this);
    }

    _onTransfer(body) {
      const cb = this._callbacks.TRANSFER;
      if (cb) cb(this, body);
    }

    // --- media plumbing
    _createPeerConnection() {
      const config = { ...(this._session._mediaOptions || {}) };
      if (!config.iceServers) config.iceServers = [];
      const pc = new global.RTCPeerConnection(config);
      this._pc = pc;
      const el = this._remoteElement();
      pc.ontrack = (ev) => {
        let stream = el.srcObject;
        if (ev.streams && ev.streams[0]) stream = ev.streams[0];
        else {
          stream = stream || new global.MediaStream();
          stream.addTrack(ev.track);
        }
        if (el.srcObject !== stream) el.srcObject = stream;
        el.muted = false;
        playElement(el);
      };
      return pc;
    }

    _remoteElement() {
      if (this._remoteEl) return this._remoteEl;
      let el;
      if (this._remoteDisplay) {
        el = this._remoteDisplay.querySelector(`video[${REMOTE_ATTR}]`) || createVideoElement(REMOTE_ATTR);
        if (!el.parentNode) this._remoteDisplay.appendChild(el);
      } else {
        el = new global.Audio(); // plays audio-only calls without any display element
        el.autoplay = true;
      }
      el.id = this._id + '-remote';
      if (this._audioOutputId && el.setSinkId) el.setSinkId(this._audioOutputId).catch(() => {});
      if (this._volume !== undefined) el.volume = this._volume / 100;
      this._remoteEl = el;
      return el;
    }

    _applyCodecPreferences(stripCodecs) {
      const names = splitCodecs(stripCodecs);
      const caps = global.RTCRtpSender && global.RTCRtpSender.getCapabilities;
      if (!names.length || !caps) return;
      for (const t of this._pc.getTransceivers()) {
        if (!t.setCodecPreferences) continue;
        const kind = t.receiver.track.kind;
        const all = global.RTCRtpReceiver.getCapabilities(kind);
        if (!all) continue;
        const keep = all.codecs.filter((c) => !names.includes(c.mimeType.split('/')[1].toUpperCase()));
        try { t.setCodecPreferences(keep); } catch (e) { this._logger.warn('call', e); }
      }
    }

    _closeConnection() {
      if (this._pc) {
        this._pc.ontrack = null;
        if (this._pc.signalingState !== 'closed') this._pc.close();
      }
      if (this._remoteEl) {
        this._remoteEl.pause && this._remoteEl.pause();
        this._remoteEl.srcObject = null;
        if (this._remoteEl.parentNode) this._remoteEl.remove();
      }
      this._releaseMedia();
    }

    _releaseMedia() {
      if (this._options.cacheLocalResources) return;
      if (this._localDisplay) releaseLocalMediaImpl(this._localDisplay);
      if (this._localStream && !(this._constraints && this._constraints.customStream)) {
        this._localStream.getTracks().forEach((t) => t.stop());
      }
    }

    _setRemoteSdp(sdp) {
      const pc = this._pc;
      sdp = applySdpHook(sdp, this._options.sdpHook);
      if (!pc || pc.signalingState !== 'have-local-offer') {
        // Protocol 1 has no way to answer a server re-offer (PROTOCOL.md §4.2).
        this._logger.warn('call', 'unexpected setRemoteSDP ignored for call ' + this._id);
        return;
      }
      pc.setRemoteDescription({ type: 'answer', sdp }).catch((e) => this._localFailure(e));
    }

    _localTrack(kind) {
      return this._localStream ? this._localStream.getTracks().find((t) => t.kind === kind) : undefined;
    }

    // --- media controls
    muteAudio() { const t = this._localTrack('audio'); if (t) t.enabled = false; }
    unmuteAudio() { const t = this._localTrack('audio'); if (t) t.enabled = true; }
    isAudioMuted() { const t = this._localTrack('audio'); return t ? !t.enabled : true; }
    muteVideo() { const t = this._localTrack('video'); if (t) t.enabled = false; }
    unmuteVideo() { const t = this._localTrack('video'); if (t) t.enabled = true; }
    isVideoMuted() { const t = this._localTrack('video'); return t ? !t.enabled : true; }

    setAudioOutputId(id) {
      this._audioOutputId = id;
      if (this._remoteEl && this._remoteEl.setSinkId) return this._remoteEl.setSinkId(id);
      return Promise.resolve();
    }

    setVolume(volume) {
      this._volume = volume;
      if (this._remoteEl) this._remoteEl.volume = Math.max(0, Math.min(100, volume)) / 100;
    }

    getVolume() {
      const el = this._remoteEl;
      return el && el.srcObject && el.srcObject.getAudioTracks().length ? el.volume * 100 : -1;
    }

    getStats(callbackFn, nativeStats) {
      if (!this._pc) return Promise.resolve(undefined);
      return this._pc.getStats(null).then((report) => {
        let result;
        if (nativeStats) {
          result = {};
          report.forEach((r) => { (result[r.type] = result[r.type] || []).push(r); });
        } else {
          result = statsSummary(report, this._pc);
        }
        if (typeof callbackFn === 'function') callbackFn(result);
        return result;
      });
    }

    async _switchTrack(kind, deviceId, errorText) {
      if (this._status !== CALL_STATUS.ESTABLISHED && this._status !== CALL_STATUS.HOLD) {
        throw new Error(ERROR_INFO.INVALID_CALL_STATE);
      }
      const old = this._localTrack(kind);
      const sender = this._pc && this._pc.getSenders().find((s) => s.track && s.track.kind === kind);
      if (!old || !sender) throw errorText;
      const devices = (await nav().mediaDevices.enumerateDevices()).filter((d) => d.kind === kind + 'input');
      // Like the official SDK: fewer than two devices refuse a switch, also to a named one.
      if (devices.length < 2) throw errorText;
      let id = deviceId;
      if (id === undefined || id === null) {
        const current = old.getSettings().deviceId;
        const i = devices.findIndex((d) => d.deviceId === current);
        id = devices[(i + 1) % devices.length].deviceId;
      }
      const base = this._constraints && typeof this._constraints[kind] === 'object' ? this._constraints[kind] : {};
      const c = normaliseConstraints({ [kind]: { ...base, deviceId: { exact: id } } });
      const fresh = (await nav().mediaDevices.getUserMedia({ [kind]: c[kind] })).getTracks()[0];
      fresh.enabled = old.enabled;
      await sender.replaceTrack(fresh);
      old.stop();
      this._localStream.removeTrack(old);
      this._localStream.addTrack(fresh);
      return id;
    }

    switchCam(deviceId) { return this._switchTrack('video', deviceId, ERROR_INFO.CAN_NOT_SWITCH_CAM); }
    switchMic(deviceId) { return this._switchTrack('audio', deviceId, ERROR_INFO.CAN_NOT_SWITCH_MIC); }

    async switchToScreen() {
      if (this._status !== CALL_STATUS.ESTABLISHED && this._status !== CALL_STATUS.HOLD) {
        throw new Error(ERROR_INFO.INVALID_CALL_STATE);
      }
      const screen = (await nav().mediaDevices.getDisplayMedia({ video: true })).getVideoTracks()[0];
      const sender = this._pc.getSenders().find((s) => s.track && s.track.kind === 'video');
      if (!sender) throw new Error(ERROR_INFO.CAN_NOT_SWITCH_CAM);
      this._camTrack = sender.track;
      await sender.replaceTrack(screen);
    }

    switchToCam() {
      if (this._status !== CALL_STATUS.ESTABLISHED && this._status !== CALL_STATUS.HOLD) {
        throw new Error(ERROR_INFO.INVALID_CALL_STATE);
      }
      const sender = this._pc.getSenders().find((s) => s.track && s.track.kind === 'video');
      if (sender && this._camTrack) {
        sender.track.stop();
        sender.replaceTrack(this._camTrack);
        this._camTrack = null;
      }
    }

    /** Change the size of the video we send (e.g. {width: 640, height: 480}). */
    updateVideoResolution(resolution) {
      const t = this._localTrack('video');
      if (!t) return Promise.reject(new Error(ERROR_INFO.CAN_NOT_SET_RESOLUTION));
      return t.applyConstraints({ ...resolution });
    }

    // --- call control (PROTOCOL.md §4.5-4.7)
    hold() { this._session._send('hold', { callId: this._id }); }
    holdForTransfer() { this._session._send('hold', { callId: this._id, holdForTransfer: true }); }
    unhold() { this._session._send('unhold', { callId: this._id }); }
    sendDTMF(number, type) {
      this._session._send('sendDtmf', { callId: this._id, type: type || 'RFC2833', dtmf: String(number) });
    }
    transfer(target) { this._session._send('transfer', { callId: this._id, target: String(target) }); }
  }

  function applySdpHook(sdp, hook) {
    if (typeof hook !== 'function') return sdp;
    const changed = hook({ sdpString: sdp });
    return changed ? changed : sdp;
  }

  // ---------------------------------------------------------------- Session
  class Session {
    constructor(options) {
      this._id = uuid();
      this._status = SESSION_STATUS.PENDING;
      this._url = options.urlServer;
      this._options = options;
      this._authToken = options.authToken;
      this._mediaOptions = options.mediaOptions;
      this._callbacks = {};
      this._calls = new Map();
      this._remoteSdp = new Map();
      this._userData = {};
      this._pending = new Map();
      this._logger = options.logger ? createLogger(options.logger) : api.logger;
      const s = options.sipOptions;
      this._sip = s ? {
        sipLogin: s.login, sipAuthenticationName: s.authenticationName, sipPassword: s.password,
        sipDomain: s.domain, sipOutboundProxy: s.outboundProxy, sipProxy: s.proxy,
        sipPort: s.port, sipRegisterRequired: s.registerRequired,
      } : null;
      this._timers = [];
      this._missedPings = 0;
      this._connect();
    }

    _connect() {
      const ws = new global.WebSocket(this._url);
      this._ws = ws;
      const timeout = this._options.timeout;
      if (timeout > 0) {
        this._timers.push(setTimeout(() => {
          if (ws.readyState === 0) {
            this._logger.warn('session', 'WebSocket connection timeout');
            this._setStatus(SESSION_STATUS.FAILED);
            ws.close();
          }
        }, timeout));
      }
      ws.onerror = () => { if (this._status !== SESSION_STATUS.FAILED) this._setStatus(SESSION_STATUS.FAILED); };
      ws.onclose = () => {
        if (this._status !== SESSION_STATUS.FAILED) this._setStatus(SESSION_STATUS.DISCONNECTED);
      };
      ws.onopen = () => {
        this._setStatus(SESSION_STATUS.CONNECTED);
        const n = global.navigator || {};
        this._send('connection', {
          appKey: this._options.appKey || 'defaultApp',
          mediaProviders: getMediaProviders(),
          keepAlive: this._options.keepAlive,
          authToken: this._authToken,
          clientVersion: '2.0',
          protocolVersion: PROTOCOL_VERSION,
          clientOSVersion: n.appVersion,
          clientBrowserVersion: n.userAgent,
          custom: this._options.custom,
          ...(this._sip || {}),
        });
        this._startPings();
      };
      ws.onmessage = (ev) => this._onFrame(ev.data);
    }

    _startPings() {
      const o = this._options;
      if (o.pingInterval > 0) this._timers.push(setInterval(() => this._send('ping', null), o.pingInterval));
      if (o.receiveProbes > 0 && o.probesInterval > 0) {
        this._timers.push(setInterval(() => {
          if (++this._missedPings >= o.receiveProbes) {
            this._logger.info('session', `missed ${this._missedPings} pings, connection seems down`);
            this._setStatus(SESSION_STATUS.FAILED);
            this._ws.close();
          }
        }, o.probesInterval));
      }
    }

    _onFrame(text) {
      if (typeof text !== 'string') return;
      let frame;
      try {
        frame = JSON.parse(text);
      } catch (e) {
        this._logger.warn('session', 'unparsable frame from server');
        return;
      }
      this._missedPings = 0;
      const data = Array.isArray(frame.data) ? frame.data : [];
      const body = data[0] && typeof data[0] === 'object' ? data[0] : {};
      const call = body.callId !== undefined ? this._calls.get(body.callId) : undefined;
      switch (frame.message) {
        case 'ping':
          this._send('pong', null);
          break;
        case 'getUserData':
          this._userData = body;
          if (body.authToken) this._authToken = body.authToken;
          this._setStatus(SESSION_STATUS.ESTABLISHED, body);
          break;
        case 'registered':
          this._setStatus(SESSION_STATUS.REGISTERED);
          break;
        case 'setRemoteSDP': {
          const known = this._calls.get(data[0]);
          if (known && known._pc) known._setRemoteSdp(data[1]);
          else this._remoteSdp.set(data[0], data[1]);
          break;
        }
        case 'notifyIncomingCall':
          this._onIncomingCall(body);
          break;
        case 'notifyTryingResponse':
        case 'ring':
        case 'talk':
        case 'hold':
        case 'finish':
          if (call && body.status) call._onStatus(body);
          break;
        case 'notifyTransferEvent':
          if (call) call._onTransfer(body);
          break;
        case 'fail':
          this._fire(SESSION_STATUS.WARN, body);
          if (FATAL_FAIL_METHODS.includes(body.apiMethod) && this._status !== SESSION_STATUS.FAILED) {
            this._setStatus(SESSION_STATUS.FAILED, body);
            this._ws.close();
          }
          break;
        case 'DataStatusEvent': {
          const p = this._pending.get(body.operationId);
          if (p) {
            this._pending.delete(body.operationId);
            const info = { ...body };
            delete info.operationId;
            (body.status === 'ACCEPTED' ? p.resolve : p.reject)(info);
          }
          break;
        }
        case 'OnDataEvent':
          this._fire(SESSION_STATUS.APP_DATA, body);
          break;
        case 'notifySessionDebugEvent':
          this._fire(SESSION_STATUS.DEBUG, body);
          break;
        default:
          this._logger.info('session', 'unknown server message ' + frame.message);
      }
    }

    _onIncomingCall(body) {
      const options = {
        callId: body.callId, caller: body.caller, callee: body.callee,
        visibleName: body.visibleName, custom: body.custom,
      };
      const call = new Call(this, options, true);
      call._hasVideo = body.hasVideo;
      this._calls.set(call.id(), call);
      const cb = this._callbacks[SESSION_STATUS.INCOMING_CALL];
      if (cb) cb(call);
    }

    _fire(event, obj) {
      const cb = this._callbacks[event];
      if (cb) cb(obj);
    }

    _setStatus(status, obj) {
      this._status = status;
      if (status === SESSION_STATUS.DISCONNECTED || status === SESSION_STATUS.FAILED) {
        this._timers.forEach((t) => { clearTimeout(t); clearInterval(t); });
        this._timers = [];
        api.sessions.delete(this._id);
        for (const call of Array.from(this._calls.values())) {
          call._info = call._info || STREAM_STATUS_INFO.STOPPED_BY_SESSION_DISCONNECT;
          call._onStatus({ status: CALL_STATUS.FAILED });
        }
      }
      const cb = this._callbacks[status];
      if (cb) cb(this, obj);
    }

    _send(message, data) {
      if (this._ws && this._ws.readyState === 1) {
        this._ws.send(JSON.stringify({ message, data: [data] }));
      }
    }

    _isOpen() { return !!this._ws && this._ws.readyState === 1; }
    _login() {
      if (this._options.appKey === 'clickToCallApp') return '';
      return this._userData.sipLogin ?? (this._sip ? this._sip.sipLogin : undefined);
    }
    _takeRemoteSdp(callId) {
      const sdp = this._remoteSdp.get(callId);
      this._remoteSdp.delete(callId);
      return sdp;
    }
    _forgetCall(callId) { this._calls.delete(callId); }

    // --- public API
    id() { return this._id; }
    status() { return this._status; }
    getServerUrl() { return this._url; }
    getLogger() { return this._logger; }
    getStreams() { return []; }
    getStream() { return undefined; }
    createStream() { throw new Error('Streams are not supported by the wcs-trio SDK'); }

    createCall(options) {
      if (this._status !== SESSION_STATUS.REGISTERED && this._status !== SESSION_STATUS.ESTABLISHED) {
        throw new Error(ERROR_INFO.INVALID_SESSION_STATE + ' ' + this._status);
      }
      if (!options) throw new TypeError(ERROR_INFO.OPTIONS_MUST_BE_PROVIDED);
      const call = new Call(this, options, false);
      this._calls.set(call.id(), call);
      return call;
    }

    disconnect() {
      if (this._ws) this._ws.close();
    }

    sendData(data) {
      return new Promise((resolve, reject) => {
        const operationId = uuid();
        this._pending.set(operationId, { resolve, reject });
        this._send('sendData', { operationId, payload: data });
      });
    }

    submitBugReport(report) { this._send('submitBugReport', report); }
    startDebug() { this._logger.setLevel('DEBUG'); this._send('sessionDebug', { command: 'start' }); }
    stopDebug() { this._logger.setLevel('INFO'); this._send('sessionDebug', { command: 'stop' }); }

    on(event, callback) {
      checkOn(event, callback, Error);
      this._callbacks[event] = callback;
      return this;
    }
  }

  // ---------------------------------------------------------------- top level
  const api = { initialized: false, sessions: new Map(), providers: [], logger: createLogger(),
    defaultConstraints: null, audioContext: null };

  function webrtcAvailable() {
    const n = global.navigator;
    return !!(n && n.mediaDevices && n.mediaDevices.getUserMedia && global.RTCPeerConnection);
  }

  function init(options) {
    if (api.initialized) return Promise.resolve();
    const o = options || {};
    api.logger = createLogger(o.logger);
    if (!webrtcAvailable()) throw new Error(ERROR_INFO.NONE_OF_MEDIAPROVIDERS_AVAILABLE);
    const preferred = o.preferredMediaProviders;
    if (preferred && preferred.length && !preferred.includes('WebRTC')) {
      throw new Error(ERROR_INFO.NONE_OF_PREFERRED_MEDIAPROVIDERS_AVAILABLE);
    }
    api.providers = ['WebRTC'];
    api.defaultConstraints = o.constraints || null;
    api.initialized = true;
    api.logger.info('core', 'Initialized');
    if (typeof o.mediaProvidersReadyCallback === 'function') o.mediaProvidersReadyCallback(getMediaProviders());
    return Promise.resolve();
  }

  function getMediaProviders() { return api.providers.slice(); }

  function getMediaDevices(mediaProvider, labels, kind, deviceConstraints) {
    mustBeInitialized();
    return listDevices(labels, kind, deviceConstraints);
  }

  function getMediaAccess(constraints, display) {
    mustBeInitialized();
    return getMediaAccessImpl(constraints, display).then(() => display);
  }

  function releaseLocalMedia(display) {
    mustBeInitialized();
    return releaseLocalMediaImpl(display);
  }

  function createSession(options) {
    mustBeInitialized();
    if (!options || !options.urlServer) throw new TypeError(ERROR_INFO.OPTIONS_URLSERVER_MUST_BE_PROVIDED);
    const session = new Session(options);
    api.sessions.set(session.id(), session);
    return session;
  }

  // Browsers start audio only after a user gesture: pages call this from a click handler.
  function playFirstSound() {
    const Ctx = global.AudioContext || global.webkitAudioContext;
    if (!Ctx) return false;
    api.audioContext = api.audioContext || new Ctx();
    const ctx = api.audioContext;
    if (ctx.resume) ctx.resume().catch(() => {});
    const src = ctx.createBufferSource();
    src.buffer = ctx.createBuffer(1, 441, 44100);
    src.connect(ctx.destination);
    src.start(0);
    return true;
  }

  function playFirstVideo(display, isLocal, src) {
    if (!src || !display) return Promise.resolve();
    const v = createVideoElement(isLocal ? LOCAL_ATTR : REMOTE_ATTR);
    v.src = src;
    return v.play().then(() => {
      display.appendChild(v);
      v.removeAttribute('src');
    });
  }

  global.Flashphoner = freeze({
    init,
    createSession,
    getSessions: () => Array.from(api.sessions.values()),
    getSession: (id) => api.sessions.get(id),
    getMediaProviders,
    getMediaDevices,
    getMobileDevices: (provider, kind, c) => getMediaDevices(provider, true, kind, c),
    getMediaAccess,
    releaseLocalMedia,
    playFirstSound,
    playFirstVideo,
    getLogger: () => api.logger,
    isUsingTemasys: () => false,
    constants,
    Browser,
    PROTOCOL_VERSION,
    // Exposed for tests and tools; not part of the official API.
    _util: freeze({ stripCodecsFromSdp, normaliseSipHeaders, statsSummary }),
  });
})(typeof window !== 'undefined' ? window : globalThis);
