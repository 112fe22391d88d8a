// Type declarations for the wcs-trio SDK (global `Flashphoner`, protocol 1).
// The API mirrors the official @flashphoner/websdk for WebRTC SIP calls.

declare namespace Flashphoner {
  type SessionStatus =
    | 'CONNECTED' | 'ESTABLISHED' | 'DISCONNECTED' | 'WARN' | 'FAILED' | 'DEBUG' | 'APP_DATA'
    | 'SEND_DATA_STATUS' | 'PENDING' | 'REGISTERED' | 'UNREGISTERED' | 'INCOMING_CALL';
  type CallStatus =
    | 'NEW' | 'RING' | 'RING_MEDIA' | 'HOLD' | 'ESTABLISHED' | 'FINISH' | 'BUSY'
    | 'SESSION_PROGRESS' | 'FAILED' | 'PENDING' | 'TRYING';
  type MediaDeviceKind = 'output' | 'input' | 'all';
  type DtmfType = 'RFC2833' | 'INFO' | 'INFO_RELAY';

  interface MediaDevice { id: string; label: string; type: 'mic' | 'speaker' | 'camera'; }
  interface MediaDeviceList { audio: MediaDevice[]; video: MediaDevice[]; }

  interface SipOptions {
    login: string;
    authenticationName?: string;
    password?: string;
    domain: string;
    outboundProxy?: string;
    proxy?: string;
    port?: number | string;
    registerRequired?: boolean;
  }

  interface LoggerOptions {
    severity?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
    customLogger?: Pick<Console, 'debug' | 'info' | 'warn' | 'error'>;
    enableLogs?: boolean;
  }

  interface InitOptions {
    constraints?: MediaConstraints;
    logger?: LoggerOptions;
    preferredMediaProvider?: string;
    preferredMediaProviders?: string[];
    mediaProvidersReadyCallback?: (providers: string[]) => void;
  }

  interface SessionOptions {
    urlServer: string;
    authToken?: string;
    keepAlive?: boolean;
    appKey?: string;
    custom?: object;
    sipOptions?: SipOptions;
    /** Passed to `new RTCPeerConnection(...)`, e.g. `{iceServers: [...]}`. */
    mediaOptions?: RTCConfiguration;
    /** WebSocket connect timeout, ms. */
    timeout?: number;
    /** Send `ping` every this many ms (0: never). */
    pingInterval?: number;
    receiveProbes?: number;
    probesInterval?: number;
    logger?: LoggerOptions;
  }

  interface MediaConstraints {
    audio?: boolean | (MediaTrackConstraints & { outputId?: string });
    video?: boolean | MediaTrackConstraints;
    /** Send this stream instead of capturing (e.g. canvas, file, or an empty stream for IVRs). */
    customStream?: MediaStream;
  }

  /** `sdpHook({sdpString})` may return a changed SDP for the server's SDP. */
  type SdpHook = (sdp: { sdpString: string }) => string | null | undefined;

  interface CallOptions {
    callee: string;
    visibleName?: string;
    localVideoDisplay?: HTMLElement | null;
    remoteVideoDisplay?: HTMLElement | null;
    constraints?: MediaConstraints;
    receiveAudio?: boolean;
    receiveVideo?: boolean;
    cacheLocalResources?: boolean;
    custom?: object;
    /** Comma-separated codec names removed from our SDP, e.g. "SILK,G722". */
    stripCodecs?: string | string[];
    /** Extra SDP lines for the SIP side, e.g. ["b=AS:3000"]. */
    sipSDP?: string[];
    /** Extra SIP headers: {"X-Name": "value"} or ["X-Name: value"]. Sent by this SDK. */
    sipHeaders?: Record<string, string> | string[];
    sdpHook?: SdpHook;
    mediaProvider?: string;
    logger?: LoggerOptions;
  }

  interface AnswerOptions {
    localVideoDisplay?: HTMLElement | null;
    remoteVideoDisplay?: HTMLElement | null;
    constraints?: MediaConstraints;
    receiveAudio?: boolean;
    receiveVideo?: boolean;
    stripCodecs?: string | string[];
    sipSDP?: string[];
    sipHeaders?: Record<string, string> | string[];
    sdpHook?: SdpHook;
  }

  interface RtpStats {
    bytesSent?: number;
    packetsSent?: number;
    bytesReceived?: number;
    packetsReceived?: number;
    packetsLost?: number;
    framesEncoded?: number;
    framesDecoded?: number;
    width?: number;
    height?: number;
    codec?: string;
    codecRate?: number;
    [key: string]: number | string | undefined;
  }

  interface StreamStats {
    audio?: RtpStats;
    video?: RtpStats;
    /** Same objects as `audio` / `video`, under the names older pages use. */
    audioStats?: RtpStats;
    videoStats?: RtpStats;
  }

  interface CallStats {
    outboundStream: StreamStats;
    inboundStream: StreamStats;
    otherStats: { availableIncomingBitrate?: number; availableOutgoingBitrate?: number; currentRoundTripTime?: number };
  }

  /** Body of server events passed to WARN / APP_DATA / DEBUG callbacks and to ESTABLISHED. */
  interface ServerEvent {
    apiMethod?: string;
    info?: string;
    authToken?: string;
    [key: string]: unknown;
  }

  interface Call {
    call(): void;
    answer(options: AnswerOptions): void;
    hangup(): void;
    id(): string;
    status(): CallStatus;
    caller(): string;
    callee(): string;
    visibleName(): string;
    getInfo(): string | undefined;
    getErrorInfo(): string | undefined;
    getLogger(): object;
    getStats(callback?: (stats: CallStats) => void, nativeStats?: false): Promise<CallStats | undefined>;
    getStats(callback: (stats: Record<string, object[]>) => void, nativeStats: true): Promise<Record<string, object[]> | undefined>;
    setAudioOutputId(id: string): Promise<void>;
    setVolume(volume: number): void;
    getVolume(): number;
    muteAudio(): void;
    unmuteAudio(): void;
    isAudioMuted(): boolean;
    muteVideo(): void;
    unmuteVideo(): void;
    isVideoMuted(): boolean;
    hold(): void;
    holdForTransfer(): void;
    unhold(): void;
    sendDTMF(digits: string | number, type?: DtmfType): void;
    transfer(target: string): void;
    switchCam(deviceId?: string): Promise<string>;
    switchMic(deviceId?: string): Promise<string>;
    switchToScreen(source?: string, woExtension?: boolean): Promise<void>;
    switchToCam(): void;
    updateVideoResolution(resolution: { width?: number; height?: number; frameRate?: number }): Promise<void>;
    on(event: CallStatus, callback: (call: Call) => void): Call;
    on(event: 'TRANSFER', callback: (call: Call, event: ServerEvent) => void): Call;
  }

  interface Session {
    id(): string;
    status(): SessionStatus;
    getServerUrl(): string;
    createCall(options: CallOptions): Call;
    disconnect(): void;
    sendData(data: unknown): Promise<ServerEvent>;
    submitBugReport(report: unknown): void;
    startDebug(): void;
    stopDebug(): void;
    getLogger(): object;
    on(event: 'INCOMING_CALL', callback: (call: Call) => void): Session;
    on(event: 'WARN' | 'APP_DATA' | 'DEBUG', callback: (event: ServerEvent) => void): Session;
    on(event: SessionStatus, callback: (session: Session, event?: ServerEvent) => void): Session;
  }

  function init(options?: InitOptions): Promise<void>;
  function createSession(options: SessionOptions): Session;
  function getSessions(): Session[];
  function getSession(id: string): Session | undefined;
  function getMediaProviders(): string[];
  function getMediaDevices(mediaProvider?: string | null, labels?: boolean, kind?: MediaDeviceKind,
    deviceConstraints?: { audio?: boolean | object; video?: boolean | object }): Promise<MediaDeviceList>;
  function getMobileDevices(mediaProvider?: string | null, kind?: MediaDeviceKind,
    deviceConstraints?: { audio?: boolean | object; video?: boolean | object }): Promise<MediaDeviceList>;
  function getMediaAccess(constraints: MediaConstraints | null, display: HTMLElement | null,
    mediaProvider?: string, disableConstraintsNormalization?: boolean): Promise<HTMLElement | null>;
  function releaseLocalMedia(display: HTMLElement | null, mediaProvider?: string): boolean;
  function playFirstSound(noise?: boolean): boolean;
  function playFirstVideo(display: HTMLElement, isLocal: boolean, src?: string, useControls?: boolean): Promise<void>;
  function getLogger(): object;
  function isUsingTemasys(): false;
  const PROTOCOL_VERSION: 1;

  const constants: {
    readonly SESSION_STATUS: { readonly [K in SessionStatus]: K };
    readonly CALL_STATUS: { readonly [K in CallStatus]: K };
    readonly STREAM_STATUS: Readonly<Record<string, string>>;
    readonly CALL_STATUS_INFO: Readonly<Record<string, string>>;
    readonly STREAM_STATUS_INFO: Readonly<Record<string, string>>;
    readonly ERROR_INFO: Readonly<Record<string, string>>;
    readonly MEDIA_DEVICE_KIND: { readonly OUTPUT: 'output'; readonly INPUT: 'input'; readonly ALL: 'all' };
    readonly TRANSPORT_TYPE: { readonly UDP: 'UDP'; readonly TCP: 'TCP' };
    readonly CONNECTION_QUALITY: Readonly<Record<string, string>>;
    readonly STREAM_EVENT: 'STREAM_EVENT';
    readonly STREAM_EVENT_TYPE: Readonly<Record<string, string>>;
    readonly CONTENT_HINT_TYPE: { readonly MOTION: 'motion'; readonly DETAIL: 'detail'; readonly TEXT: 'text' };
  };

  const Browser: {
    isIE(): boolean; isFirefox(): boolean; isChrome(): boolean; isEdge(): boolean;
    isChromiumEdge(): boolean; isOpera(): boolean; isiOS(): boolean; isSafari(): boolean;
    isAndroid(): boolean; isSafariWebRTC(): boolean; isSamsungBrowser(): boolean;
    isAndroidFirefox(): boolean; version(): string | number;
  };
}

declare global {
  interface Window { Flashphoner: typeof Flashphoner; }
}

export = Flashphoner;
export as namespace Flashphoner;
