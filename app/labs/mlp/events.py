"""The MLP lab's own events: validate (app.labs.mlp.messages), call the lab, nothing more."""

from __future__ import annotations

from app.labs.base import LabEvent
from app.server.messages import Probe

from . import modelio
from .data_edits import parse_upload
from .messages import AddLayer, AddNeuron, AddPoints, ClearPoints, EditBias, EditWeight, Landscape, LoadModel, \
    RemoveLayer, RemoveNeuron, RemovePoints, SetActivation, UploadData

EVENTS: dict[str, LabEvent] = {
    "add_layer": LabEvent(AddLayer, lambda lab, m, sid: lab.add_layer(m.position, m.width)),
    "remove_layer": LabEvent(RemoveLayer, lambda lab, m, sid: lab.remove_layer(m.layer)),
    "add_neuron": LabEvent(AddNeuron, lambda lab, m, sid: lab.add_neuron(m.layer)),
    "remove_neuron": LabEvent(RemoveNeuron, lambda lab, m, sid: lab.remove_neuron(m.layer, m.neuron)),
    "set_activation": LabEvent(SetActivation, lambda lab, m, sid: lab.set_activation(m.activation, m.layer)),
    "edit_weight": LabEvent(EditWeight, lambda lab, m, sid: lab.edit_weight(m.layer, m.neuron, m.input, m.value)),
    "edit_bias": LabEvent(EditBias, lambda lab, m, sid: lab.edit_bias(m.layer, m.neuron, m.value)),
    "probe": LabEvent(Probe, lambda lab, m, sid: lab.set_probe(m.split, m.index, m.point, m.image, m.drawing)),
    "landscape": LabEvent(Landscape, lambda lab, m, sid: lab.set_landscape(
        sid, m.show, m.weights if "weights" in m.model_fields_set else "unset")),
    # Parsing an upload can take a while: done before the session's lock is taken.
    "load_model": LabEvent(LoadModel, lambda lab, parsed, sid: lab.load_model(*parsed),
                           prepare=lambda m: modelio.parse(m.data, m.format)),
    # Your own data (docs/protocol.md, "Your own data").
    "add_points": LabEvent(AddPoints, lambda lab, m, sid: lab.add_points(m.points, m.label, m.value)),
    "remove_points": LabEvent(RemovePoints, lambda lab, m, sid: lab.remove_points(m.at, m.radius)),
    "clear_points": LabEvent(ClearPoints, lambda lab, m, sid: lab.clear_points(m.task)),
    "upload_data": LabEvent(UploadData, lambda lab, points, sid: lab.upload_points(points), prepare=parse_upload),
}
